//go:build unix

package connections

import "syscall"

// socketOpen reports whether an idle socket is still usable, without
// blocking: nothing to read means the server has sent nothing and closed
// nothing. End of stream, an error, or unexpected bytes (a TLS
// close_notify alert, an unsolicited answer) mean it is not.
func socketOpen(raw syscall.RawConn) bool {
	open := false
	err := raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait for data
	})
	return err == nil && open
}
