package api

import (
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	in := ": keep-alive\n\n" +
		"id: 3\nevent: start\ndata: {\"seq\":3,\"type\":\"start\",\"app\":\"web\"}\n\n" +
		"id: 5\nevent: exit\ndata:{\"seq\":5,\"type\":\"exit\"}\n\n" +
		"data: {\"seq\":4,\"type\":\"lost\"}\n" // not ended by a blank line
	var got []string
	last, err := ReadEvents(strings.NewReader(in), func(ev Event, data []byte) {
		got = append(got, ev.Type+" "+ev.App+" "+string(data))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`start web {"seq":3,"type":"start","app":"web"}`, `exit  {"seq":5,"type":"exit"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || last != 5 {
		t.Fatalf("read %q, last %d; want %q, last 5", got, last, want)
	}
	if _, err := ReadEvents(strings.NewReader("data: {\n\n"), func(Event, []byte) {}); err == nil {
		t.Fatal("an undecodable event is no error")
	}
}
