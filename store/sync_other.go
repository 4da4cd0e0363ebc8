//go:build !linux

package store

import (
	"os"
	"runtime"
)

// canSyncDir: Windows cannot fsync a folder (NTFS journals its entries);
// other systems can.
const canSyncDir = runtime.GOOS != "windows"

// fdatasync flushes f with File.Sync, the full fsync (F_FULLFSYNC on
// macOS): where fdatasync is missing, it costs more but is as safe.
func fdatasync(f *os.File) error {
	return f.Sync()
}
