// Three apps, described the same way in apps.yaml, apps.json, apps.toml
// and apps.config.mjs; a JavaScript file may compute its values.
const port = 1000 * 3;

module.exports = {
  apps: [
    {
      name: 'web',
      script: './server.js',
      args: `--port ${port} --title "hello world"`,
      cwd: 'www',
      max_restarts: 10,
      min_uptime: '10s',
      kill_timeout: 5000,
      env: { NODE_ENV: 'development', PORT: port },
      env_production: { NODE_ENV: 'production' },
    },
    {
      name: 'worker',
      script: 'worker.py',
      interpreter: 'python3',
      interpreter_args: ['-u'],
      autorestart: false,
      restart_delay: 2000,
      stop_exit_codes: [0, 3],
      kill_signal: 'SIGTERM',
      watch_options: undefined, // dropped by JSON, as PM2 would ignore it
    },
    {
      script: './bin/cron-task.sh',
      restart: 'on-failure',
      exp_backoff_restart_delay: 100,
      env: { DEBUG: true },
    },
  ],
};
