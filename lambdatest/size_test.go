//go:build lambdatest

package lambdatest

import (
	"debug/elf"
	"os"
	"testing"
)

// maxBootstrapBytes bounds each function's binary: a Lambda cold start
// reads the whole zip, so size is start-up time (docs/architecture.md, Performance).
// The functions are about 13 MiB now; 15 MiB leaves room to grow, not to
// double.
const maxBootstrapBytes = 15 << 20

// TestBootstrapSizes checks every built bootstrap: small enough, stripped
// (the Makefile's -s -w) and built for the architecture the tests run.
// A build is deterministic (-trimpath), so these are exact checks, not
// measurements.
func TestBootstrapSizes(t *testing.T) {
	for _, f := range functions {
		path := requireFile(t, bootstrapPath(f.group))
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-20s %6.2f MiB", f.id, float64(fi.Size())/(1<<20))
		if fi.Size() > maxBootstrapBytes {
			t.Errorf("%s: bootstrap is %d bytes (%.2f MiB), want at most %d (15 MiB)", f.id, fi.Size(), float64(fi.Size())/(1<<20), maxBootstrapBytes)
		}
		bin, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", f.id, err)
		}
		if bin.Machine != elf.EM_X86_64 {
			t.Errorf("%s: machine = %v, want %v (GOARCH=%s)", f.id, bin.Machine, elf.EM_X86_64, arch)
		}
		if bin.Section(".symtab") != nil {
			t.Errorf("%s: bootstrap has a symbol table, want it stripped (-ldflags '-s -w')", f.id)
		}
		bin.Close()
	}
}
