package web

import (
	"net/http"

	"github.com/flowbot/flowbot/botstep"
	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

func (s *Server) registerTestCall() {
	s.handle(http.MethodPost, "/v1/test-call", Designer, s.testCall)
}

type testCallRequest struct {
	Step       *flow.Step        `json:"step"`
	TestValues map[string]string `json:"test_values"`
}

// testCall runs an unsaved api_call step with test values through the
// runtime's own executor (SPEC §3 "Test call").
func (s *Server) testCall(c echo.Context) error {
	var req testCallRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Step == nil {
		return problemsError("step is required", flow.Problems{{Pointer: "/step", Code: "required", Message: "step is required", Severity: flow.SeverityError}})
	}
	ctx := c.Request().Context()
	conns, err := s.connectionInfo(ctx)
	if err != nil {
		return err
	}
	p := botstep.ValidateAPICall(req.Step, "/step", conns)
	p = append(p, botstep.ValidateTestValues(req.TestValues)...)
	if p.HasErrors() {
		return problemsError("the step cannot be called: "+errorsOnly(p)[0].Message, p)
	}
	return c.JSON(http.StatusOK, s.Executor.Test(ctx, req.Step, req.TestValues))
}
