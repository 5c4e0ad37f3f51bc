package proc

import (
	"os"
	"testing"
)

func TestReadUsageSelf(t *testing.T) {
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.RSS == 0 || u.Threads == 0 || u.Start == 0 {
		t.Fatalf("ReadUsage(self) = %+v", u)
	}
}
