// Package flow is flowbot's domain: bots, their flow graphs, published
// versions, validation problems and the errors every layer shares. It imports
// neither the web framework nor the database; the store implements the
// interfaces declared here.
package flow

// Step types of SPEC §2 and §3.
const (
	TypeMessage     = "message"
	TypeOptions     = "options"
	TypeAsk         = "ask"
	TypeAPICall     = "api_call"
	TypeBranch      = "branch"
	TypeSetVariable = "set_variable"
	TypeTransfer    = "transfer"
	TypeEnd         = "end"
)

// StepTypes lists every step type in the order the builder offers them.
var StepTypes = []string{TypeMessage, TypeOptions, TypeAsk, TypeAPICall, TypeBranch, TypeSetVariable, TypeTransfer, TypeEnd}

// Flow is a directed graph of steps. Start names the first step's id.
// Cycles are allowed; the runtime caps the steps a turn may run.
type Flow struct {
	Start string `json:"start"`
	Steps []Step `json:"steps"`
}

// Step is one node of a flow. It is a flat union of every step type's
// fields: a field that does not belong to Type is reported by validation
// (field_not_allowed) rather than silently kept or dropped.
type Step struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	// Description is the designer's note on what the step is for (at most
	// MaxDescriptionLen characters); the runtime ignores it.
	Description string `json:"description,omitempty"`
	// Position is where the builder draws the step; the runtime ignores it.
	Position *Position `json:"position,omitempty"`

	// message, options, ask, transfer, end.
	Text string `json:"text,omitempty"`
	// message, ask, set_variable.
	Next string `json:"next,omitempty"`

	// options.
	Options     []Option     `json:"options,omitempty"`
	OptionsFrom *OptionsFrom `json:"options_from,omitempty"`

	// ask, set_variable.
	Variable    string `json:"variable,omitempty"`
	Input       string `json:"input,omitempty"`
	InvalidText string `json:"invalid_text,omitempty"`

	// branch.
	Conditions []Condition `json:"conditions,omitempty"`
	Else       string      `json:"else,omitempty"`

	// set_variable: a template.
	Value string `json:"value,omitempty"`

	// transfer: Reason tells the agent why; Group, Priority and Tags tell
	// the help desk where the conversation goes (each a template, so an
	// API call's answer can choose: "{{team}}").
	Reason   string   `json:"reason,omitempty"`
	Group    string   `json:"group,omitempty"`
	Priority string   `json:"priority,omitempty"`
	Tags     []string `json:"tags,omitempty"`

	// api_call (SPEC §3).
	APICall
}

// Position is a step's place on the builder's canvas.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Option is one quick reply of an options step.
type Option struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Next  string `json:"next"`
}

// OptionsFrom builds an options step's replies at run time from a JSON array
// saved in Variable (for example by an api_call): one option per element,
// labelled by LabelPath (a JSONPath into the element, "$" for the element
// itself). The chosen element is saved, as compact JSON or text, in
// ValueVariable, and Next runs.
type OptionsFrom struct {
	Variable      string `json:"variable"`
	LabelPath     string `json:"label_path"`
	ValueVariable string `json:"value_variable"`
	Next          string `json:"next"`
}

// Condition is one test of a branch step. Value is a template.
type Condition struct {
	Variable string `json:"variable"`
	Op       string `json:"op"`
	Value    string `json:"value,omitempty"`
	Next     string `json:"next"`
}

// Branch operators (SPEC §2).
const (
	OpEquals      = "equals"
	OpNotEquals   = "not_equals"
	OpContains    = "contains"
	OpExists      = "exists"
	OpNotExists   = "not_exists"
	OpGreaterThan = "greater_than"
	OpLessThan    = "less_than"
)

// BranchOps lists every branch operator.
var BranchOps = []string{OpEquals, OpNotEquals, OpContains, OpExists, OpNotExists, OpGreaterThan, OpLessThan}

// Ask input types (SPEC §2).
const (
	InputText   = "text"
	InputEmail  = "email"
	InputNumber = "number"
	InputPhone  = "phone"
)

// InputTypes lists every ask input type.
var InputTypes = []string{InputText, InputEmail, InputNumber, InputPhone}

// APICall holds the fields of the Make an API call step (SPEC §3).
type APICall struct {
	Method      string   `json:"method,omitempty"`
	URL         string   `json:"url,omitempty"`
	Headers     []Header `json:"headers,omitempty"`
	Body        *string  `json:"body,omitempty"`
	BodyType    string   `json:"body_type,omitempty"`
	ContentType string   `json:"content_type,omitempty"`
	Connection  string   `json:"connection,omitempty"`
	// TimeoutMS is the whole call's deadline; 0 means the default (10000).
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// Variables are saved from the response. A path starting with "$status"
	// or "$headers." reads the status code or a response header instead of
	// the body.
	Variables []ResponseVariable `json:"variables,omitempty"`
	OnSuccess string             `json:"on_success,omitempty"`
	OnFailure string             `json:"on_failure,omitempty"`
	// Retry, when set, retries idempotent methods on 5xx, 429 and
	// timeouts, never sooner than the answer's Retry-After.
	Retry *Retry `json:"retry,omitempty"`
	// SuccessWhen are tests a 2xx answer must also pass to take the
	// success branch, for APIs that answer 200 to a request they did not
	// carry out ({"ok": false}); all must hold.
	SuccessWhen []SuccessCondition `json:"success_when,omitempty"`
}

// SuccessCondition is one test of an api_call's answer. Path reads the
// answer as a response variable's path does ($.ok, $status,
// $headers.<name>, $body); Op is a branch operator; Value is a template.
type SuccessCondition struct {
	Path  string `json:"path"`
	Op    string `json:"op"`
	Value string `json:"value,omitempty"`
}

// Header is one designer-set request header.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ResponseVariable saves the value at Path of an api_call's response as Name.
type ResponseVariable struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// Retry configures retries of an idempotent api_call (GET, PUT, DELETE) on a
// 5xx or 429 status, a network error or a timed-out attempt, with exponential
// backoff starting at BackoffMS. The step's timeout_ms still bounds the
// whole call, every attempt and wait included; AttemptTimeoutMS (0: no
// limit of its own) bounds each attempt within it, so a slow attempt
// leaves time for another.
type Retry struct {
	MaxAttempts      int `json:"max_attempts"`
	BackoffMS        int `json:"backoff_ms"`
	AttemptTimeoutMS int `json:"attempt_timeout_ms,omitempty"`
}

// Body types of an api_call.
const (
	BodyJSON = "json"
	BodyText = "text"
)

// Limits of SPEC §2 and §3.
const (
	MaxDescriptionLen = 1000
	MaxOptions        = 10
	MaxHeaders        = 20
	MaxHeaderValueLen = 256
	MaxResponseVars   = 8
	MaxBodyBytes      = 64 << 10
	MinTimeoutMS      = 1000
	MaxTimeoutMS      = 30000
	DefaultTimeoutMS  = 10000
	MaxResponseBytes  = 1 << 20
	MaxRedirects      = 3
	MaxStepsPerTurn   = 100
	// MaxTurnsPerConversation bounds a conversation's replies: past it the
	// conversation ends with status error. Its transcript, log and every
	// read of them stay bounded.
	MaxTurnsPerConversation = 1000
	MaxRetryAttempts        = 5
	MaxRetryBackoffMS       = 10000
	MaxTextLen              = 4096
	MaxStepsPerFlow         = 20000
	MaxConditionsPerStep    = 20
	MaxSuccessConditions    = 5
	MaxTransferTags         = 10
	MaxTagLen               = 50
	MaxGroupLen             = 200
)

// TransferPriorities are the priorities a transfer may give, lowest first.
var TransferPriorities = []string{"low", "normal", "high", "urgent"}

// StepIndex maps step ids to their position in f.Steps. When ids repeat, the
// first wins (validation reports the duplicates).
func (f *Flow) StepIndex() map[string]int {
	idx := make(map[string]int, len(f.Steps))
	for i := range f.Steps {
		if _, ok := idx[f.Steps[i].ID]; !ok {
			idx[f.Steps[i].ID] = i
		}
	}
	return idx
}

// Targets returns every step id s may go to next, with the JSON pointer
// (relative to the step) of the field that names it. Empty targets ("end
// here") are included so callers can decide what an empty one means.
func (s *Step) Targets() []Target {
	var t []Target
	switch s.Type {
	case TypeMessage, TypeAsk, TypeSetVariable:
		t = append(t, Target{"/next", s.Next})
	case TypeOptions:
		for i, o := range s.Options {
			t = append(t, Target{"/options/" + itoa(i) + "/next", o.Next})
		}
		if s.OptionsFrom != nil {
			t = append(t, Target{"/options_from/next", s.OptionsFrom.Next})
		}
	case TypeBranch:
		for i, c := range s.Conditions {
			t = append(t, Target{"/conditions/" + itoa(i) + "/next", c.Next})
		}
		t = append(t, Target{"/else", s.Else})
	case TypeAPICall:
		t = append(t, Target{"/on_success", s.OnSuccess}, Target{"/on_failure", s.OnFailure})
	}
	return t
}

// Target is one outgoing edge of a step: Field is a JSON pointer relative to
// the step, StepID the target (empty: end here).
type Target struct {
	Field  string
	StepID string
}
