package gcburst

import "testing"

func TestBeginEnd(t *testing.T) {
	calls := 0
	OnChange(func() { calls++ })
	defer OnChange(nil)
	if Active() {
		t.Fatal("active before any burst")
	}
	end1 := Begin()
	end2 := Begin()
	if !Active() || calls != 1 {
		t.Fatalf("two bursts: active %v, %d calls, want true and 1", Active(), calls)
	}
	end1()
	end1() // a second end of the same burst does nothing
	if !Active() || calls != 1 {
		t.Fatalf("one burst left: active %v, %d calls, want true and 1", Active(), calls)
	}
	end2()
	if Active() || calls != 2 {
		t.Fatalf("no burst left: active %v, %d calls, want false and 2", Active(), calls)
	}
}
