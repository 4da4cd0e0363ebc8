package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/flowbot/flowbot/botstep"
	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

func (s *Server) registerBots() {
	s.handle(http.MethodPost, "/v1/bots", Designer, s.createBot)
	s.handle(http.MethodGet, "/v1/bots", Designer, s.listBots)
	s.handle(http.MethodPost, "/v1/bots/import", Designer, s.importBot)
	s.handle(http.MethodGet, "/v1/bots/:id", Designer, s.getBot)
	s.handle(http.MethodPatch, "/v1/bots/:id", Designer, s.patchBot)
	s.handle(http.MethodDelete, "/v1/bots/:id", Designer, s.deleteBot)
	s.handle(http.MethodPut, "/v1/bots/:id/flow", Designer, s.saveFlow)
	s.handle(http.MethodPost, "/v1/bots/:id/validate", Designer, s.validateBot)
	s.handle(http.MethodPost, "/v1/bots/:id/publish", Designer, s.publishBot)
	s.handle(http.MethodGet, "/v1/bots/:id/versions", Designer, s.listVersions)
	s.handle(http.MethodGet, "/v1/bots/:id/versions/:n", Designer, s.getVersion)
	s.handle(http.MethodGet, "/v1/bots/:id/export", Designer, s.exportBot)
}

// Read-only bot fields a client may send back; they are ignored.
var botReadOnly = []string{"id", "revision", "published_version", "created_at", "updated_at", "problems"}

type createBotRequest struct {
	Name        string     `json:"name" validate:"required,max=200"`
	Description string     `json:"description" validate:"max=2000"`
	Flow        *flow.Flow `json:"flow"`
}

type patchBotRequest struct {
	Name        *string `json:"name" validate:"omitnil,max=200"`
	Description *string `json:"description" validate:"omitempty,max=2000"`
	// Flow is taken only as a client sending back what it read: the draft
	// is saved with PUT /v1/bots/{id}/flow, which checks its revision.
	Flow *flow.Flow `json:"flow"`
}

// botResponse is a bot with the problems of its draft.
type botResponse struct {
	*flow.Bot
	Problems flow.Problems `json:"problems"`
}

func (s *Server) createBot(c echo.Context) error {
	var req createBotRequest
	if err := decodeJSON(c, &req, botReadOnly...); err != nil {
		return err
	}
	req.Name = trimName(req.Name)
	if err := s.validate(&req); err != nil {
		return err
	}
	b := &flow.Bot{Name: req.Name, Description: req.Description}
	if req.Flow != nil {
		b.Flow = *req.Flow
	}
	return s.storeNewBot(c, b)
}

func (s *Server) storeNewBot(c echo.Context, b *flow.Bot) error {
	normalise(&b.Flow)
	if err := checkFlowSize(&b.Flow); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.Bots.CreateBot(ctx, b); err != nil {
		return err
	}
	problems, err := s.validateFlow(ctx, &b.Flow)
	if err != nil {
		return err
	}
	setETag(c, b.Revision)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/bots/"+b.ID)
	return c.JSON(http.StatusCreated, botResponse{Bot: b, Problems: problems})
}

func (s *Server) listBots(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	bots, total, err := s.Bots.Bots(c.Request().Context(), p)
	if err != nil {
		return err
	}
	for _, b := range bots {
		b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	}
	return c.JSON(http.StatusOK, map[string]any{"items": bots, "total": total, "offset": p.Offset, "limit": p.Limit})
}

const timeFormat = "2006-01-02T15:04:05.999999999Z07:00"

func (s *Server) getBot(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.Bots.Bot(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	normalise(&b.Flow)
	problems, err := s.validateFlow(ctx, &b.Flow)
	if err != nil {
		return err
	}
	setETag(c, b.Revision)
	return c.JSON(http.StatusOK, botResponse{Bot: b, Problems: problems})
}

func (s *Server) patchBot(c echo.Context) error {
	var req patchBotRequest
	if err := decodeJSON(c, &req, botReadOnly...); err != nil {
		return err
	}
	if req.Name != nil {
		// The validator's "required" would look only at the pointer.
		if *req.Name = trimName(*req.Name); *req.Name == "" {
			return ruleError("/name", "required", "/name is required")
		}
	}
	if err := s.validate(&req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if req.Flow != nil {
		if err := s.sameDraft(ctx, c.Param("id"), req.Flow); err != nil {
			return err
		}
	}
	b, err := s.Bots.UpdateBot(ctx, c.Param("id"), flow.BotUpdate{Name: req.Name, Description: req.Description})
	if err != nil {
		return err
	}
	normalise(&b.Flow)
	setETag(c, b.Revision)
	return c.JSON(http.StatusOK, b)
}

// trimName removes the white space around a bot name, which no list
// shows; a name of nothing else is then empty, and refused as missing
// (its request type's "required"), since no list could tell it apart.
func trimName(name string) string {
	return strings.TrimSpace(name)
}

// sameDraft accepts a flow sent with PATCH /v1/bots/{id} only when it is
// the bot's draft, as a client sending back the bot it read does; any
// other is refused rather than dropped, so that no edit vanishes. Returns
// ENOTFOUND.
func (s *Server) sameDraft(ctx context.Context, id string, sent *flow.Flow) error {
	b, err := s.Bots.Bot(ctx, id)
	if err != nil {
		return err
	}
	normalise(&b.Flow)
	normalise(sent)
	same, err := flow.SameFlow(&b.Flow, sent)
	if err != nil {
		return err
	}
	if !same {
		msg := "flow is not changed by PATCH /v1/bots/{id}: save the flow with PUT /v1/bots/{id}/flow (it is sent back unchanged only as read)"
		return &flow.Error{Code: flow.EINVALID, Message: msg,
			Details: []flow.Problem{{Pointer: "/flow", Code: "read_only_field", Message: msg, Severity: flow.SeverityError}}}
	}
	return nil
}

func (s *Server) deleteBot(c echo.Context) error {
	if err := s.Bots.DeleteBot(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type saveFlowResponse struct {
	Revision int64         `json:"revision"`
	Problems flow.Problems `json:"problems"`
}

func (s *Server) saveFlow(c echo.Context) error {
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	var f flow.Flow
	if err := decodeJSON(c, &f, "revision", "id"); err != nil {
		return err
	}
	normalise(&f)
	if err := checkFlowSize(&f); err != nil {
		return err
	}
	ctx := c.Request().Context()
	b, err := s.Bots.SaveDraft(ctx, c.Param("id"), f, rev)
	if err != nil {
		return err
	}
	problems, err := s.validateFlow(ctx, &f)
	if err != nil {
		return err
	}
	setETag(c, b.Revision)
	return c.JSON(http.StatusOK, saveFlowResponse{Revision: b.Revision, Problems: problems})
}

func (s *Server) validateBot(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.Bots.Bot(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	problems, err := s.validateFlow(ctx, &b.Flow)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"revision": b.Revision, "problems": problems})
}

func (s *Server) publishBot(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.Bots.Bot(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	problems, err := s.validateFlow(ctx, &b.Flow)
	if err != nil {
		return err
	}
	if problems.HasErrors() {
		n := len(errorsOnly(problems))
		return problemsError("the draft has "+strconv.Itoa(n)+" error(s); fix them before publishing", problems)
	}
	v, err := s.Bots.Publish(ctx, b.ID, b.Revision, actor(c))
	if err != nil {
		return err
	}
	s.audit(c, flow.AuditBotPublished, b.ID, map[string]string{"name": b.Name, "version": strconv.Itoa(v.Number), "revision": strconv.FormatInt(v.Revision, 10)})
	c.Response().Header().Set(echo.HeaderLocation, "/v1/bots/"+b.ID+"/versions/"+strconv.Itoa(v.Number))
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) listVersions(c echo.Context) error {
	vs, err := s.Bots.Versions(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	type versionSummary struct {
		Number      int    `json:"number"`
		Revision    int64  `json:"revision"`
		Steps       int    `json:"steps"`
		PublishedAt string `json:"published_at"`
		PublishedBy string `json:"published_by"`
	}
	items := make([]versionSummary, 0, len(vs))
	for _, v := range vs {
		items = append(items, versionSummary{v.Number, v.Revision, len(v.Flow.Steps), v.PublishedAt.UTC().Format(timeFormat), v.PublishedBy})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (s *Server) getVersion(c echo.Context) error {
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 {
		return flow.Errorf(flow.ENOTFOUND, "version %q not found: versions are numbered from 1", c.Param("n"))
	}
	v, err := s.Bots.Version(c.Request().Context(), c.Param("id"), n)
	if err != nil {
		return err
	}
	normalise(&v.Flow)
	return c.JSON(http.StatusOK, v)
}

// validateFlow runs every static rule against f with the connections that
// exist now.
func (s *Server) validateFlow(ctx context.Context, f *flow.Flow) (flow.Problems, error) {
	conns, err := s.connectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	p := botstep.Validate(f, conns)
	if p == nil {
		p = flow.Problems{}
	}
	return p, nil
}

func (s *Server) connectionInfo(ctx context.Context) (map[string]botstep.ConnectionInfo, error) {
	m := map[string]botstep.ConnectionInfo{}
	if s.Connections == nil {
		return m, nil
	}
	list, err := s.Connections.List(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	for _, c := range list {
		m[c.Name] = botstep.ConnectionInfo{AllowedDomain: c.AllowedDomain, AllowSubdomains: c.AllowSubdomains,
			Status: c.Status(now), StatusMessage: c.StatusMessage(now)}
	}
	return m, nil
}

// ifMatch reads the draft revision a save is based on. SPEC §5: without it
// the save is refused, so two designers never overwrite each other.
func ifMatch(c echo.Context) (int64, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" {
		return 0, flow.Errorf(flow.ECONFLICT, "If-Match header is required: send the revision you read (GET /v1/bots/{id} returns it)")
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil || n < 1 {
		return 0, flow.Errorf(flow.EINVALID, "If-Match must be a revision number such as 7, got %q", c.Request().Header.Get("If-Match"))
	}
	return n, nil
}

func setETag(c echo.Context, rev int64) {
	c.Response().Header().Set("ETag", `"`+strconv.FormatInt(rev, 10)+`"`)
}

// normalise gives an empty flow an empty step list, so clients always see
// an array.
func normalise(f *flow.Flow) {
	if f.Steps == nil {
		f.Steps = []flow.Step{}
	}
}

func checkFlowSize(f *flow.Flow) error {
	if len(f.Steps) > flow.MaxStepsPerFlow {
		msg := "a flow may have at most " + strconv.Itoa(flow.MaxStepsPerFlow) + " steps; this one has " + strconv.Itoa(len(f.Steps))
		return ruleError("/steps", "too_many_steps", msg)
	}
	return nil
}
