package web

import (
	"net/http"
	"sort"

	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

// exportFormat names the portable bot document; exportVersion its version.
const (
	exportFormat  = "flowbot.bot"
	exportVersion = 1
)

// exportDocument is a bot as a portable JSON document. It carries the
// draft flow and the names of the connections it uses, never a credential.
type exportDocument struct {
	Format      string     `json:"format" validate:"required,eq=flowbot.bot"`
	Version     int        `json:"format_version" validate:"required,eq=1"`
	Name        string     `json:"name" validate:"required,max=200"`
	Description string     `json:"description" validate:"max=2000"`
	Flow        *flow.Flow `json:"flow" validate:"required"`
	Connections []string   `json:"connections"`
	ExportedAt  string     `json:"exported_at,omitempty"`
}

func (s *Server) exportBot(c echo.Context) error {
	b, err := s.Bots.Bot(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	normalise(&b.Flow)
	doc := exportDocument{
		Format: exportFormat, Version: exportVersion, Name: b.Name, Description: b.Description,
		Flow: &b.Flow, Connections: connectionNames(&b.Flow), ExportedAt: s.Now().UTC().Format(timeFormat),
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="bot-`+b.ID+`.json"`)
	return c.JSON(http.StatusOK, doc)
}

func (s *Server) importBot(c echo.Context) error {
	var doc exportDocument
	if err := decodeJSON(c, &doc); err != nil {
		return err
	}
	doc.Name = trimName(doc.Name)
	if err := s.validate(&doc); err != nil {
		return err
	}
	return s.storeNewBot(c, &flow.Bot{Name: doc.Name, Description: doc.Description, Flow: *doc.Flow})
}

// connectionNames lists the connections a flow's api_call steps use.
func connectionNames(f *flow.Flow) []string {
	seen := map[string]bool{}
	names := []string{}
	for _, st := range f.Steps {
		if st.Type == flow.TypeAPICall && st.Connection != "" && !seen[st.Connection] {
			seen[st.Connection] = true
			names = append(names, st.Connection)
		}
	}
	sort.Strings(names)
	return names
}
