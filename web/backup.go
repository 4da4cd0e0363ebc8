package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

func (s *Server) registerBackup() {
	s.handle(http.MethodGet, "/v1/backup", Admin, s.backup)
}

// backup serves a consistent copy of the whole database while flowbot
// keeps serving: every turn acknowledged before the request is in it. It
// holds conversations and sealed (encrypted) credentials, so only admins
// may take it, and each download is audited. The secret key is not in it:
// keep that separately.
func (s *Server) backup(c echo.Context) error {
	r, size, err := s.Backup(c.Request().Context())
	if err != nil {
		return err
	}
	defer r.Close()
	// The server's write timeout is for API answers; a large copy over a
	// slow link takes longer. A client that stalls is still cut off.
	_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(backupWriteTimeout))
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, `attachment; filename="flowbot-`+s.Now().UTC().Format("20060102T150405Z")+`.db"`)
	h.Set(echo.HeaderContentLength, strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "no-store")
	err = c.Stream(http.StatusOK, "application/octet-stream", r)
	// Audited whether or not it arrived whole: part of a copy is data too.
	s.audit(c, flow.AuditBackupDownloaded, "database", map[string]string{"bytes": strconv.FormatInt(size, 10), "complete": strconv.FormatBool(err == nil)})
	return err
}

// backupWriteTimeout bounds one backup download.
const backupWriteTimeout = time.Hour
