package flow

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Bot is a designer's bot: a draft flow under a revision number and its
// published versions.
type Bot struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Flow        Flow   `json:"flow"`
	// Revision counts draft saves; a save must name the revision it read.
	Revision int64 `json:"revision"`
	// PublishedVersion is the latest version's number, 0 when never published.
	PublishedVersion int       `json:"published_version"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Version is an immutable snapshot of a bot's draft, made by publishing.
type Version struct {
	BotID       string    `json:"bot_id"`
	Number      int       `json:"number"`
	Revision    int64     `json:"revision"`
	Flow        Flow      `json:"flow"`
	PublishedAt time.Time `json:"published_at"`
	PublishedBy string    `json:"published_by"`
}

// BotUpdate changes a bot's name or description; nil fields stay.
type BotUpdate struct {
	Name        *string
	Description *string
}

// Page selects part of a list.
type Page struct {
	Offset int
	Limit  int
}

// BotStore keeps bots, drafts and versions. Every write is on disk before it
// returns.
type BotStore interface {
	// CreateBot stores b, setting its ID (when empty), Revision 1,
	// CreatedAt and UpdatedAt.
	CreateBot(ctx context.Context, b *Bot) error
	// Bot returns the bot with id. Returns ENOTFOUND if there is none.
	Bot(ctx context.Context, id string) (*Bot, error)
	// Bots returns a page of bot summaries ordered by creation time
	// (oldest first) and the total count. It does not read the flows.
	Bots(ctx context.Context, p Page) ([]*BotSummary, int, error)
	// UpdateBot changes name or description without touching the draft.
	// Returns ENOTFOUND.
	UpdateBot(ctx context.Context, id string, u BotUpdate) (*Bot, error)
	// SaveDraft replaces the draft flow if the stored revision equals
	// ifRevision and returns the bot with its new revision.
	// Returns ENOTFOUND, or ECONFLICT when the revision is stale.
	SaveDraft(ctx context.Context, id string, f Flow, ifRevision int64) (*Bot, error)
	// Publish snapshots the draft as the next version if the stored
	// revision equals revision (the one that was validated).
	// Returns ENOTFOUND, or ECONFLICT when the draft changed meanwhile.
	Publish(ctx context.Context, id string, revision int64, by string) (*Version, error)
	// PublishedVersion returns the number of the bot's latest published
	// version, 0 if it was never published, without reading its draft.
	// Returns ENOTFOUND.
	PublishedVersion(ctx context.Context, botID string) (int, error)
	// Versions lists a bot's versions, newest first. Returns ENOTFOUND.
	Versions(ctx context.Context, botID string) ([]*Version, error)
	// Version returns version n of a bot. Returns ENOTFOUND.
	Version(ctx context.Context, botID string, n int) (*Version, error)
	// DeleteBot removes a bot with its versions. Returns ENOTFOUND.
	DeleteBot(ctx context.Context, id string) error
	// BotsUsingConnection returns the bots whose latest published version
	// has an api_call step using the named connection, by name.
	BotsUsingConnection(ctx context.Context, name string) ([]BotRef, error)
}

// BotSummary is a bot without its flow, for lists.
type BotSummary struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	Revision         int64  `json:"revision"`
	PublishedVersion int    `json:"published_version"`
	// Steps counts the draft's steps.
	Steps     int       `json:"steps"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// BotRef names a bot: names need not be unique, ids are.
type BotRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// CodeConnectionInUse is the problem code of each bot that keeps a
// connection from being deleted.
const CodeConnectionInUse = "connection_in_use"

// ConnectionInUse is the ECONFLICT refusing to delete connection name
// while bots use it. Each bot is named with its id in the message and is a
// problem of its own in the details (pointer /bots/{id}).
func ConnectionInUse(name string, bots []BotRef) *Error {
	e := &Error{Code: ECONFLICT}
	list := make([]string, len(bots))
	for i, b := range bots {
		list[i] = Quote(b.Name) + " (id " + b.ID + ")"
		e.Details = append(e.Details, Problem{Pointer: "/bots/" + b.ID, Code: CodeConnectionInUse, Severity: SeverityError,
			Message: "bot " + list[i] + " uses connection " + Quote(name) + " in its published version"})
	}
	e.Message = fmt.Sprintf("connection %s is used by %d published bot(s): %s; publish them without it first, or delete them",
		Quote(name), len(bots), strings.Join(list, ", "))
	return e
}
