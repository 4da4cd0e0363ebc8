package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// uiFiles is the browser builder and the chat widget: plain HTML, CSS and
// ES modules with no build step, so `go run ./cmd/flowbot` needs no Node.js.
//
//go:embed ui
var uiFiles embed.FS

// uiCSP is the Content-Security-Policy of every UI response: scripts,
// styles and API calls only from this origin, no inline script or style.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// uiTypes are the content types of the UI's files, fixed here rather than
// read from the system's mime.types, which differ between machines.
var uiTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

// uiAsset is one embedded file with its content type and strong ETag.
type uiAsset struct {
	body  []byte
	ctype string
	etag  string
}

// registerUI serves the builder at /, its assets under /ui/, the widget
// at /widget.js and a widget demo page at /demo. These are not API routes:
// they are registered on echo directly, so they stay out of Routes() and
// openapi.yaml.
func (s *Server) registerUI() {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	assets := map[string]uiAsset{}
	_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct, ok := uiTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		assets[p] = uiAsset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	file := func(name string) echo.HandlerFunc {
		return func(c echo.Context) error { return serveAsset(c, assets, name) }
	}
	s.e.GET("/", file("index.html"))
	s.e.GET("/demo", file("demo.html"))
	s.e.GET("/widget.js", file("widget.js"))
	s.e.GET("/ui/*", func(c echo.Context) error { return serveAsset(c, assets, c.Param("*")) })
}

// serveAsset writes one embedded file with the UI's security headers. The
// ETag lets browsers revalidate cheaply; no-cache makes them always ask, so
// a new binary's UI is picked up at once.
func serveAsset(c echo.Context, assets map[string]uiAsset, name string) error {
	a, ok := assets[strings.TrimPrefix(path.Clean("/"+name), "/")]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no such file")
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	if strings.HasSuffix(name, ".html") {
		h.Set("X-Frame-Options", "DENY")
	}
	if match := c.Request().Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, a.ctype, a.body)
}
