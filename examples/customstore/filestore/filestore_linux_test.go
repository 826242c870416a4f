package filestore_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// A file size limit (RLIMIT_FSIZE) makes a write fail part-way, as a full
// disk does, and binds root too, unlike file permissions. The Go runtime
// ignores SIGXFSZ, so the write returns EFBIG instead of the process
// being killed. The limit is process-wide: this test must not run in
// parallel with others that write files.
func TestCommitPastTheFileSizeLimitKeepsThePreviousFile(t *testing.T) {
	checkFailedCommitKeepsFile(t, func(string) func() {
		var old syscall.Rlimit
		require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
		limited := old
		limited.Cur = 4 << 10 // the file holds ~60 bytes; the failing commits write 64 KiB
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited))
		return func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)) }
	})
}
