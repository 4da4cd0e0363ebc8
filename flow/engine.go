package flow

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Engine runs conversations: from a conversation's state and one input it
// runs steps until one waits for input or the flow ends (SPEC §4). It holds
// no per-conversation state; the caller stores what a turn changed.
type Engine struct {
	Caller APICaller
	Now    func() time.Time
}

// Input is what the user sent in one turn: a typed text or a chosen option.
type Input struct {
	Text     string
	OptionID string
	// Key is the client's Idempotency-Key for this message; "" for none.
	Key string
}

// Digest identifies the input's content (not its key), to tell a retry of
// a message from another message sent with the same key.
func (in Input) Digest() string {
	h := sha256.New()
	h.Write(binary.AppendUvarint(nil, uint64(len(in.OptionID)))) // so no split of the two runs into another
	h.Write([]byte(in.OptionID))
	h.Write([]byte(in.Text))
	return string(h.Sum(nil)[:16])
}

// Turn is what one turn produced.
type Turn struct {
	Messages   []Message
	Transcript []Entry
	Log        []LogEntry
	// Replayed: the turn was not run again; Messages are those of the
	// conversation's latest turn, sent again with its Idempotency-Key.
	Replayed bool
}

type run struct {
	e    *Engine
	c    *Compiled
	conv *Conversation
	// vars is conv's variable lookup; it reads conv as it is at each call.
	vars Lookup
	t    *Turn
	now  time.Time
}

// Start runs a new conversation from the flow's start step.
func (e *Engine) Start(ctx context.Context, c *Compiled, conv *Conversation) *Turn {
	r := e.newRun(c, conv)
	conv.Status = StatusActive
	r.runFrom(ctx, c.Flow.Start)
	return r.t
}

// Reply runs one turn with the user's input. Returns ECONFLICT when the
// conversation is not waiting for input and EINVALID for an empty input.
func (e *Engine) Reply(ctx context.Context, c *Compiled, conv *Conversation, in Input) (*Turn, error) {
	if conv.Status != StatusActive || conv.Waiting == "" {
		return nil, Errorf(ECONFLICT, "the conversation is %s and takes no more messages", conv.Status)
	}
	if strings.TrimSpace(in.Text) == "" && in.OptionID == "" {
		return nil, Errorf(EINVALID, "send text or option_id")
	}
	st := c.Step(conv.Waiting)
	if st == nil {
		return nil, Errorf(EINTERNAL, "waiting step %q is not in version %d", conv.Waiting, conv.Version)
	}
	r := e.newRun(c, conv)
	if conv.Turns >= MaxTurnsPerConversation {
		// The reply is not taken: the conversation ends here, as at the
		// step cap. Without a cap one token holder could grow a
		// transcript (and every read of it) without end.
		r.log(LogEntry{StepID: st.ID, StepType: st.Type, Outcome: OutcomeTurnLimit, Detail: map[string]string{
			"message": "a conversation may have at most " + strconv.Itoa(MaxTurnsPerConversation) + " turns; start a new one"}})
		r.finish(StatusError)
		return r.t, nil
	}
	conv.Turns++
	next, ok := r.answer(st, in)
	if !ok {
		return r.t, nil
	}
	conv.Waiting = ""
	r.runFrom(ctx, next)
	return r.t, nil
}

func (e *Engine) newRun(c *Compiled, conv *Conversation) *run {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	if conv.Vars == nil {
		conv.Vars = map[string]string{}
	}
	// Sized for a usual turn (an answer, an api_call, a message, the next
	// question), so appending does not regrow and copy the entries.
	t := &Turn{Messages: make([]Message, 0, 2), Transcript: make([]Entry, 0, 4), Log: make([]LogEntry, 0, 4)}
	return &run{e: e, c: c, conv: conv, vars: conv.Lookup(), t: t, now: now().UTC()}
}

// runFrom runs steps from id until one waits, the flow ends, or the
// per-turn step cap is reached.
func (r *run) runFrom(ctx context.Context, id string) {
	for n := 0; ; n++ {
		if id == "" {
			r.finish(StatusEnded)
			return
		}
		timeUp := TurnTimeUp(ctx)
		if n == MaxStepsPerTurn || timeUp != nil {
			var typ string
			if st := r.c.Step(id); st != nil {
				typ = st.Type
			}
			e := LogEntry{StepID: id, StepType: typ, Outcome: OutcomeStepLimit, Detail: map[string]string{
				"message": "a turn may run at most " + strconv.Itoa(MaxStepsPerTurn) + " steps; the flow loops without waiting for input"}}
			if timeUp != nil {
				e.Outcome, e.Detail = OutcomeTimeLimit, map[string]string{"message": timeUp.Error() + "; the step was not run"}
			}
			r.log(e)
			r.finish(StatusError)
			return
		}
		st := r.c.Step(id)
		if st == nil {
			r.log(LogEntry{StepID: id, Outcome: OutcomeUnknownStep})
			r.finish(StatusError)
			return
		}
		next, wait := r.step(ctx, st)
		if wait || r.conv.Status != StatusActive {
			return
		}
		id = next
	}
}

// TurnTimeUp returns the turn's TurnTimeoutError once its deadline has
// passed, nil before. A step cut by the deadline (an API call's own timer
// on the same deadline) can return a moment before the context says so:
// the passed deadline is waited out.
func TurnTimeUp(ctx context.Context) *TurnTimeoutError {
	dl, ok := ctx.Deadline()
	if !ok || time.Now().Before(dl) {
		return nil
	}
	<-ctx.Done()
	var e *TurnTimeoutError
	if errors.As(context.Cause(ctx), &e) {
		return e
	}
	return nil
}

func (r *run) finish(status string) {
	r.conv.Status = status
	r.conv.Waiting = ""
	r.conv.Awaiting = Awaiting{Type: AwaitNone}
}

// step runs one step; it returns the next step's id, or wait=true when
// the step waits for input.
func (r *run) step(ctx context.Context, st *Step) (next string, wait bool) {
	vars := r.vars
	entry := LogEntry{StepID: st.ID, StepType: st.Type, Outcome: "ok"}
	switch st.Type {
	case TypeMessage:
		r.say(st.ID, Interpolate(st.Text, vars))
		next = st.Next
	case TypeOptions:
		opts := r.options(st)
		r.say(st.ID, Interpolate(st.Text, vars))
		if len(opts) == 0 && st.OptionsFrom != nil {
			entry.Outcome = "no_options"
			next = st.OptionsFrom.Next
			break
		}
		r.await(st.ID, Awaiting{Type: AwaitOptions, Options: opts})
		entry.Outcome = OutcomeWaiting
		r.log(entry)
		return "", true
	case TypeAsk:
		r.say(st.ID, Interpolate(st.Text, vars))
		r.await(st.ID, Awaiting{Type: AwaitText})
		entry.Outcome = OutcomeWaiting
		r.log(entry)
		return "", true
	case TypeAPICall:
		res := r.e.Caller.Call(ctx, st, vars)
		// Each run starts the step's variables afresh (SPEC §3 rule 8: a
		// path that matches nothing leaves the variable unset), so a
		// second run, in a loop or after the failure branch, never shows
		// the first run's answer as this one's. A name another kind of
		// step also writes (the order number an ask step saved, which
		// the call may refine) keeps its value unless the answer has it.
		for _, v := range st.Variables {
			if !r.c.otherWriters[v.Name] {
				delete(r.conv.Vars, v.Name)
			}
		}
		for k, v := range res.Saved {
			r.conv.Vars[k] = v
		}
		call := res.Log
		entry.APICall = &call
		if res.Success {
			entry.Outcome, next = "success", st.OnSuccess
		} else {
			entry.Outcome, next = "failure", st.OnFailure
		}
	case TypeBranch:
		next = st.Else
		entry.Outcome = "else"
		for i, cond := range st.Conditions {
			if evaluate(cond, vars) {
				next = cond.Next
				entry.Outcome = "condition_" + strconv.Itoa(i)
				break
			}
		}
	case TypeSetVariable:
		r.conv.Vars[st.Variable] = Interpolate(st.Value, vars)
		next = st.Next
	case TypeTransfer:
		r.say(st.ID, Interpolate(st.Text, vars))
		r.finish(StatusTransferred)
		entry.Outcome = "transferred"
		entry.Detail = transferDetail(st, vars)
	case TypeEnd:
		r.say(st.ID, Interpolate(st.Text, vars))
		r.finish(StatusEnded)
		entry.Outcome = "ended"
	default:
		entry.Outcome = "unknown_step_type"
		r.finish(StatusError)
	}
	entry.Next = next
	r.log(entry)
	return next, false
}

func (r *run) say(stepID, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	r.t.Messages = append(r.t.Messages, Message{StepID: stepID, Text: text})
	r.transcript(Entry{From: "bot", Text: text, StepID: stepID})
}

func (r *run) await(stepID string, a Awaiting) {
	r.conv.Waiting = stepID
	r.conv.Awaiting = a
}

func (r *run) log(e LogEntry) {
	r.conv.Seq++
	e.Seq, e.At = r.conv.Seq, r.now
	r.t.Log = append(r.t.Log, e)
}

func (r *run) transcript(e Entry) {
	r.conv.Seq++
	e.Seq, e.At = r.conv.Seq, r.now
	r.t.Transcript = append(r.t.Transcript, e)
}

// transferDetail is what a transfer tells the help desk, for the log and
// the hand-off notice: reason, group (trimmed, at most MaxGroupLen
// characters), priority (one of TransferPriorities; another value is kept
// as priority_ignored, so the log shows why none was sent) and tags
// (NormalizeTags, comma-joined). Empty values are left out; nil when
// nothing is left.
func transferDetail(st *Step, vars Lookup) map[string]string {
	d := map[string]string{}
	if st.Reason != "" {
		d["reason"] = Interpolate(st.Reason, vars)
	}
	if g := cutRunes(strings.TrimSpace(Interpolate(st.Group, vars)), MaxGroupLen); g != "" {
		d["group"] = g
	}
	if p := strings.ToLower(strings.TrimSpace(Interpolate(st.Priority, vars))); slices.Contains(TransferPriorities, p) {
		d["priority"] = p
	} else if p != "" {
		d["priority_ignored"] = cutRunes(p, MaxTagLen)
	}
	if len(st.Tags) > 0 {
		raw := make([]string, len(st.Tags))
		for i, t := range st.Tags {
			raw[i] = Interpolate(t, vars)
		}
		if tags := NormalizeTags(raw); len(tags) > 0 {
			d["tags"] = strings.Join(tags, ",")
		}
	}
	if len(d) == 0 {
		return nil
	}
	return d
}

// NormalizeTags makes help-desk tags of tag texts: lower case, each run of
// characters other than letters, digits (in any script), "_", "-" and ":"
// made one "_", "_" cut from both ends, at most MaxTagLen characters;
// empty ones and repeats are dropped, and at most MaxTransferTags are kept.
func NormalizeTags(raw []string) []string {
	var out []string
	for _, t := range raw {
		var b strings.Builder
		gap := false
		for _, r := range strings.ToLower(t) {
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == ':' {
				if gap && b.Len() > 0 {
					b.WriteByte('_')
				}
				gap = false
				b.WriteRune(r)
			} else {
				gap = true
			}
		}
		tag := strings.TrimRight(cutRunes(strings.Trim(b.String(), "_"), MaxTagLen), "_")
		if tag != "" && !slices.Contains(out, tag) {
			out = append(out, tag)
			if len(out) == MaxTransferTags {
				break
			}
		}
	}
	return out
}

// cutRunes cuts s to at most n characters.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
