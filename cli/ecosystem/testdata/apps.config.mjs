// Three apps, described the same way in apps.yaml, apps.json, apps.toml
// and apps.config.js, as an ES module.
const web = {
  name: 'web',
  script: './server.js',
  args: ['--port', '3000', '--title', 'hello world'],
  cwd: 'www',
  max_restarts: 10,
  min_uptime: 10000,
  kill_timeout: 5000,
  env: { NODE_ENV: 'development', PORT: '3000' },
  env_production: { NODE_ENV: 'production' },
};

export default {
  apps: [
    web,
    {
      name: 'worker',
      script: 'worker.py',
      interpreter: 'python3',
      node_args: '-u',
      autorestart: false,
      restart_delay: '2s',
      stop_exit_codes: [0, 3],
      kill_signal: 'TERM',
    },
    {
      script: './bin/cron-task.sh',
      restart: 'on-failure',
      exp_backoff_restart_delay: 100,
      env: { DEBUG: 'true' },
    },
  ],
};
