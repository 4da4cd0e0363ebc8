package flow

import (
	"context"
	"time"
)

// Conversation statuses.
const (
	StatusActive      = "active"
	StatusEnded       = "ended"
	StatusTransferred = "transferred"
	StatusError       = "error"
)

// Conversation is one run of one published version with one end user. The
// transcript and execution log are stored beside it, entry by entry, so a
// conversation waiting for input costs only its state.
type Conversation struct {
	ID        string `json:"id"`
	BotID     string `json:"bot_id"`
	Version   int    `json:"version"`
	TokenHash []byte `json:"-"`
	Status    string `json:"status"`
	// Waiting is the id of the options or ask step waiting for a reply.
	Waiting  string   `json:"waiting,omitempty"`
	Awaiting Awaiting `json:"awaiting"`
	// Vars are the designer-named variables.
	Vars map[string]string `json:"variables"`
	// User holds the system variables from the start request.
	User      User      `json:"user"`
	Turns     int       `json:"turns"`
	Seq       int       `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Last is the latest reply turn, to answer a retry of it again.
	Last LastTurn `json:"-"`
}

// LastTurn is what a conversation keeps of its latest reply turn, so that
// a client that lost the answer and sends the message again with the same
// Idempotency-Key gets the same answer instead of a second run.
type LastTurn struct {
	// Key is the Idempotency-Key the turn came with; "" when it had none.
	Key string
	// Input is a digest of the turn's input (see Input.Digest).
	Input string
	// Seq is the conversation's Seq before the turn (with a key): the
	// turn's transcript entries are the ones after it.
	Seq int
	// Earlier are the keys of the turns before it, newest first: a
	// message sent again with one of them was answered and followed by
	// others, so it is refused instead of run again. At most
	// KeptKeys-1 are kept, and turns without a key keep none.
	Earlier []string
}

// KeptKeys is how many of its latest turns' Idempotency-Keys a
// conversation remembers.
const KeptKeys = 8

// User is what the chat widget tells about its user at conversation start.
type User struct {
	ExternalID    string `json:"external_id,omitempty"`
	Name          string `json:"name,omitempty"`
	Email         string `json:"email,omitempty"`
	Authenticated bool   `json:"authenticated,omitempty"`
	Locale        string `json:"locale,omitempty"`
}

// Awaiting tells the widget what the bot waits for (SPEC §5).
type Awaiting struct {
	Type    string        `json:"type"`
	Options []AwaitOption `json:"options,omitempty"`
}

// Awaiting types.
const (
	AwaitText    = "text"
	AwaitOptions = "options"
	AwaitNone    = "none"
)

// AwaitOption is one quick reply offered to the user.
type AwaitOption struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Message is one bot message of a turn.
type Message struct {
	StepID string `json:"step_id"`
	Text   string `json:"text"`
}

// Entry is one line of a conversation's transcript.
type Entry struct {
	Seq  int       `json:"seq"`
	At   time.Time `json:"at"`
	From string    `json:"from"` // "bot" or "user"
	Text string    `json:"text"`
	// OptionID is set when the user chose an option.
	OptionID string `json:"option_id,omitempty"`
	StepID   string `json:"step_id,omitempty"`
}

// LogEntry is one step run in a conversation's execution log.
type LogEntry struct {
	Seq      int               `json:"seq"`
	At       time.Time         `json:"at"`
	StepID   string            `json:"step_id"`
	StepType string            `json:"step_type"`
	Outcome  string            `json:"outcome"`
	Next     string            `json:"next,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`
	APICall  *APICallLog       `json:"api_call,omitempty"`
}

// APICallLog records an api_call's request and outcome; headers are
// already redacted.
type APICallLog struct {
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers,omitempty"`
	Status     int               `json:"status,omitempty"`
	DurationMS float64           `json:"duration_ms"`
	Bytes      int64             `json:"bytes"`
	Attempts   int               `json:"attempts,omitempty"`
	Saved      []string          `json:"variables_saved,omitempty"`
	Branch     string            `json:"branch"`
	Error      string            `json:"error,omitempty"`
	ErrorMsg   string            `json:"error_message,omitempty"`
	// RequestBody and ResponseBody are the first MaxLoggedBody bytes of
	// the bodies sent and received (echoed credentials already redacted),
	// for finding out why a call failed in production; the *Cut fields
	// say a body was longer. Empty when the server keeps no bodies.
	RequestBody     string `json:"request_body,omitempty"`
	RequestBodyCut  bool   `json:"request_body_cut,omitempty"`
	ResponseBody    string `json:"response_body,omitempty"`
	ResponseBodyCut bool   `json:"response_body_cut,omitempty"`
}

// MaxLoggedBody is how much of an api_call's request and response bodies
// the execution log keeps.
const MaxLoggedBody = 2048

// ConversationFilter narrows a list of conversations; zero fields match
// all.
type ConversationFilter struct {
	Status  string
	Version int
}

// TurnRecord is everything one turn changes, stored in one transaction.
type TurnRecord struct {
	Conversation *Conversation
	Transcript   []Entry
	Log          []LogEntry
	// MustExist marks a turn that continues a stored conversation: if the
	// conversation is gone (removed by retention meanwhile), SaveTurn
	// returns ENOTFOUND instead of creating it again.
	MustExist bool
}

// ConversationStore keeps conversations, their transcripts and logs.
type ConversationStore interface {
	// SaveTurn stores the conversation state with the turn's new
	// transcript and log entries in one transaction, on disk before it
	// returns. It creates the conversation on its first turn; a turn with
	// MustExist set returns ENOTFOUND when the conversation is gone.
	SaveTurn(ctx context.Context, t *TurnRecord) error
	// Conversation returns a conversation's state. Returns ENOTFOUND.
	Conversation(ctx context.Context, id string) (*Conversation, error)
	// ConversationByTokenHash returns the conversation whose token hashes
	// to h. Returns ENOTFOUND.
	ConversationByTokenHash(ctx context.Context, h []byte) (*Conversation, error)
	// ConversationIDByTokenHash returns only the id of the conversation
	// whose token hashes to h; it is cheaper than ConversationByTokenHash.
	// Returns ENOTFOUND.
	ConversationIDByTokenHash(ctx context.Context, h []byte) (string, error)
	// Transcript returns a conversation's transcript, oldest first.
	Transcript(ctx context.Context, id string) ([]Entry, error)
	// Log returns a conversation's execution log, oldest first.
	Log(ctx context.Context, id string) ([]LogEntry, error)
	// DeleteConversationsBefore removes conversations last updated before t
	// and returns how many it removed.
	DeleteConversationsBefore(ctx context.Context, t time.Time) (int, error)
	// RecentConversations returns up to limit conversations of a bot
	// that pass f, most recently updated first, from cursor ("" for the
	// newest); next is "" when no older ones are left.
	RecentConversations(ctx context.Context, botID string, f ConversationFilter, cursor string, limit int) (convs []*Conversation, next string, err error)
	// DeleteConversation removes one conversation and all stored under
	// it. Returns ENOTFOUND, or ECONFLICT while one of its turns runs.
	DeleteConversation(ctx context.Context, id string) error
}

// APICaller runs an api_call step: it is implemented by botstep and
// declared here so the engine needs no HTTP knowledge.
type APICaller interface {
	// Call makes the step's request with the variables in scope and returns
	// the outcome. It never returns an error: every failure is an outcome
	// that takes the failure branch.
	Call(ctx context.Context, s *Step, vars Lookup) CallResult
}

// Lookup returns a variable's value and whether it is set. It resolves
// both designer variables and system variables (user.*, conversation.id).
type Lookup func(name string) (string, bool)

// CallResult is an api_call's outcome.
type CallResult struct {
	// Success is true for a 2xx status.
	Success bool
	// Saved are the variables to set.
	Saved map[string]string
	Log   APICallLog
}
