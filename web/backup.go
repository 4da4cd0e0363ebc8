package web

import (
	"net/http"
	"strconv"

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
	s.audit(c, flow.AuditBackupDownloaded, "database", map[string]string{"bytes": strconv.FormatInt(size, 10)})
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, `attachment; filename="flowbot-`+s.Now().UTC().Format("20060102T150405Z")+`.db"`)
	h.Set(echo.HeaderContentLength, strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "no-store")
	return c.Stream(http.StatusOK, "application/octet-stream", r)
}
