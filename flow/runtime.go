package flow

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Runtime drives live conversations: it loads the pinned published version,
// runs the engine, and stores each turn in one transaction before answering.
// Turns of one conversation run one after the other; different
// conversations never wait for each other (not even for an api_call).
type Runtime struct {
	Bots   BotStore
	Store  ConversationStore
	Engine *Engine
	Now    func() time.Time
	// TurnTimeout bounds how long one turn's steps may take, their API
	// calls together; 0 means DefaultTurnTimeout.
	TurnTimeout time.Duration
	// OnTransfer, when set, is called after a turn that handed the
	// conversation to a human (a transfer step) is stored, and again when
	// that turn's answer is replayed (t.Replayed, with the turn's log
	// entries): a notice lost to a crash between the turn and the
	// notice's write is made then, when the widget that got no answer
	// sends its message again. It must make one notice per conversation
	// and not block: the caller is waiting.
	OnTransfer func(conv *Conversation, t *Turn)

	locks    keyedMutex
	mu       sync.Mutex
	compiled map[versionKey]*Compiled
	running  atomic.Int64 // turns between their start and their answer
}

// Drain waits until no turn is running, or ctx is done (its error then).
// A server that stops calls it before closing the store: a turn whose API
// call was sent must still be stored, or the widget's retry would make the
// call again. Turns are bounded by TurnTimeout, so the wait is too.
func (rt *Runtime) Drain(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for rt.running.Load() > 0 {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
	}
	return nil
}

// Running is how many turns are running now.
func (rt *Runtime) Running() int { return int(rt.running.Load()) }

type versionKey struct {
	bot string
	n   int
}

// DefaultTurnTimeout is how long one turn may take by default. A flow of
// many slow API calls would otherwise keep the user (and the server)
// waiting for minutes: past it the turn stops before its next step and the
// conversation ends with status error, as at the step cap. It stays under
// the server's write timeout, so the answer still reaches the widget.
const DefaultTurnTimeout = 60 * time.Second

// TurnTimeoutError is the cause of a turn's context once its time is up.
type TurnTimeoutError struct{ Limit time.Duration }

func (e *TurnTimeoutError) Error() string {
	return "a turn may take at most " + e.Limit.String()
}

// TurnLimit is how long one turn may take: TurnTimeout, or
// DefaultTurnTimeout when that is 0.
func (rt *Runtime) TurnLimit() time.Duration {
	if rt.TurnTimeout > 0 {
		return rt.TurnTimeout
	}
	return DefaultTurnTimeout
}

// turnContext bounds a turn's steps by the turn timeout. The turn is then
// stored with the caller's context: a turn that ran out of time is still
// stored, ended with status error.
func (rt *Runtime) turnContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := rt.TurnLimit()
	return context.WithTimeoutCause(ctx, d, &TurnTimeoutError{Limit: d})
}

// maxCompiled bounds the cache of compiled versions.
const maxCompiled = 1024

// StartRequest is what a chat widget sends to start a conversation.
type StartRequest struct {
	User      User
	Variables map[string]string
	// TokenHash is the hash of the conversation token the caller issued.
	TokenHash []byte
	// Key is the start's Idempotency-Key, "" for none. With a key, the
	// caller derives the token from the bot and the key, so a start sent
	// again finds its conversation by TokenHash and gets the first answer
	// (Turn.Replayed) instead of a second conversation.
	Key string
}

// Digest identifies a start request's content (not its key or token), to
// tell a retry from another start sent with the same key.
func (req *StartRequest) Digest() string {
	h := sha256.New()
	field := func(s string) {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	u := req.User
	for _, s := range []string{u.ExternalID, u.Name, u.Email, strconv.FormatBool(u.Authenticated), u.Locale} {
		field(s)
	}
	for _, k := range slices.Sorted(maps.Keys(req.Variables)) {
		field(k)
		field(req.Variables[k])
	}
	return startDigest + string(h.Sum(nil)[:16])
}

// startDigest begins the digest of a start (StartRequest.Digest), which
// no message's digest does: a message sent with the start's key is not
// taken for a retry of the start, whatever its text.
const startDigest = "start:"

// IsStart reports whether l is the conversation's start, not a reply.
func (l LastTurn) IsStart() bool { return strings.HasPrefix(l.Input, startDigest) }

// Limits of a start request's variables.
const (
	maxStartVariables = 50
	maxVariableLen    = 4096
)

// ValidateStart checks a start request's variables and user fields.
func ValidateStart(req *StartRequest) Problems {
	var p Problems
	if len(req.Variables) > maxStartVariables {
		p.Add("/variables", "too_many_variables", "at most "+strconv.Itoa(maxStartVariables)+" variables may be set at start")
	}
	for k, v := range req.Variables {
		ptr := "/variables" + Pointer(k)
		if !IsVariableName(k) {
			p.Add(ptr, "invalid_variable_name", "variable names use a–z, 0–9 and _ (1–64 characters); "+strconv.Quote(k)+" does not")
		}
		if utf8.RuneCountInString(v) > maxVariableLen {
			p.Add(ptr, "value_too_long", "a variable value may be at most "+strconv.Itoa(maxVariableLen)+" characters")
		}
	}
	for ptr, v := range map[string]string{"/user/external_id": req.User.ExternalID, "/user/name": req.User.Name, "/user/email": req.User.Email, "/user/locale": req.User.Locale} {
		if utf8.RuneCountInString(v) > 256 {
			p.Add(ptr, "value_too_long", ptr+" may be at most 256 characters")
		}
	}
	return p
}

// Start begins a conversation on the bot's latest published version and
// runs it until it waits for input. Returns ENOTFOUND for an unknown bot or
// one never published, EUNPROCESSABLE for bad start variables.
func (rt *Runtime) Start(ctx context.Context, botID string, req StartRequest) (*Conversation, *Turn, error) {
	rt.running.Add(1)
	defer rt.running.Add(-1)
	if p := ValidateStart(&req); len(p) > 0 {
		return nil, nil, &Error{Code: EUNPROCESSABLE, Message: p[0].Message, Details: p}
	}
	if req.Key != "" {
		// Starts with one key (one token) run one after the other: a
		// retry that comes while the first still runs waits for it, then
		// gets its answer.
		unlock := rt.locks.lock("start\x00" + string(req.TokenHash))
		defer unlock()
		id, err := rt.Store.ConversationIDByTokenHash(ctx, req.TokenHash)
		if err == nil {
			return rt.replayStart(ctx, id, botID, &req)
		} else if ErrorCode(err) != ENOTFOUND {
			return nil, nil, err
		}
	}
	published, err := rt.Bots.PublishedVersion(ctx, botID)
	if err != nil {
		return nil, nil, err
	}
	if published == 0 {
		return nil, nil, Errorf(ENOTFOUND, "bot %s has no published version yet: publish it first", botID)
	}
	c, err := rt.version(ctx, botID, published)
	if err != nil {
		return nil, nil, err
	}
	now := rt.now()
	conv := &Conversation{
		ID: uuid.NewString(), BotID: botID, Version: published, TokenHash: req.TokenHash,
		Status: StatusActive, Vars: map[string]string{}, User: req.User, CreatedAt: now, UpdatedAt: now,
	}
	if req.Key != "" {
		conv.Last = LastTurn{Key: req.Key, Input: req.Digest()}
	}
	for k, v := range req.Variables {
		conv.Vars[k] = v
	}
	tctx, cancel := rt.turnContext(ctx)
	turn := rt.Engine.Start(tctx, c, conv)
	cancel()
	if err := rt.Store.SaveTurn(ctx, &TurnRecord{Conversation: conv, Transcript: turn.Transcript, Log: turn.Log}); err != nil {
		return nil, nil, err
	}
	rt.transferred(conv, turn)
	return conv, turn, nil
}

// Send runs one turn of a conversation with the user's input. Returns
// ENOTFOUND, ECONFLICT when the conversation has ended, EINVALID for an
// empty input. An input whose Key is the latest turn's is not run again:
// the answer is that turn's (Turn.Replayed), or EUNPROCESSABLE when the
// key came with another message; the key of an earlier one of the latest
// KeptKeys keyed turns gets ECONFLICT. A turn that was not stored (its
// save failed) left no key: a retry runs it again.
func (rt *Runtime) Send(ctx context.Context, convID string, in Input) (*Conversation, *Turn, error) {
	rt.running.Add(1)
	defer rt.running.Add(-1)
	unlock := rt.locks.lock(convID)
	defer unlock()
	conv, err := rt.Store.Conversation(ctx, convID)
	if err != nil {
		return nil, nil, err
	}
	if in.Key != "" && in.Key == conv.Last.Key && !conv.Last.IsStart() {
		return rt.replay(ctx, conv, in.Digest())
	}
	if in.Key != "" && slices.Contains(conv.Last.Earlier, in.Key) {
		return nil, nil, &Error{Code: ECONFLICT,
			Message: "the message with this Idempotency-Key was answered, and later messages followed it; GET the conversation for its transcript"}
	}
	c, err := rt.version(ctx, conv.BotID, conv.Version)
	if err != nil {
		return nil, nil, err
	}
	last := LastTurn{Earlier: conv.Last.earlier(in.Key != "")}
	if in.Key != "" {
		last.Key, last.Input, last.Seq = in.Key, in.Digest(), conv.Seq
	}
	tctx, cancel := rt.turnContext(ctx)
	turn, err := rt.Engine.Reply(tctx, c, conv, in)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	conv.UpdatedAt, conv.Last = rt.now(), last
	if err := rt.Store.SaveTurn(ctx, &TurnRecord{Conversation: conv, Transcript: turn.Transcript, Log: turn.Log, MustExist: true}); err != nil {
		return nil, nil, err
	}
	rt.transferred(conv, turn)
	return conv, turn, nil
}

// transferred tells OnTransfer about a stored turn that handed conv over.
func (rt *Runtime) transferred(conv *Conversation, t *Turn) {
	if rt.OnTransfer != nil && conv.Status == StatusTransferred {
		rt.OnTransfer(conv, t)
	}
}

// earlier returns the keys to keep when another turn follows l: l's and
// those before it, so that with the new turn's own key (keyed) there are
// KeptKeys at most.
func (l LastTurn) earlier(keyed bool) []string {
	keys := l.Earlier
	if l.Key != "" {
		keys = append([]string{l.Key}, keys...)
	}
	keep := KeptKeys
	if keyed {
		keep--
	}
	if len(keys) > keep {
		keys = keys[:keep]
	}
	if len(keys) == 0 {
		return nil
	}
	return keys
}

// replay answers a message sent again with the Idempotency-Key of the
// conversation's latest turn: the turn is not run again (its API calls are
// not made twice); the answer is rebuilt from its transcript entries and
// the conversation's state, which is the state that turn left. The caller
// holds the conversation's lock, so a retry that arrives while the first
// request still runs waits for it and then gets its answer.
func (rt *Runtime) replay(ctx context.Context, conv *Conversation, digest string) (*Conversation, *Turn, error) {
	if digest != conv.Last.Input {
		return nil, nil, &Error{Code: EUNPROCESSABLE,
			Message: "this Idempotency-Key came with another request (another message, or a start with other values) in this conversation's latest turn; send a new key with a new request",
			Details: []Problem{{Pointer: "/Idempotency-Key", Code: "key_reused", Severity: SeverityError,
				Message: "the key was used for another request"}}}
	}
	tr, err := rt.Store.Transcript(ctx, conv.ID)
	if err != nil {
		return nil, nil, err
	}
	t := &Turn{Messages: []Message{}, Replayed: true}
	for _, e := range tr {
		if e.Seq > conv.Last.Seq && e.From == "bot" {
			t.Messages = append(t.Messages, Message{StepID: e.StepID, Text: e.Text})
		}
	}
	if conv.Status == StatusTransferred && rt.OnTransfer != nil {
		log, err := rt.Store.Log(ctx, conv.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range log {
			if e.Seq > conv.Last.Seq {
				t.Log = append(t.Log, e)
			}
		}
		rt.OnTransfer(conv, t)
	}
	return conv, t, nil
}

// replayStart answers a start sent again with the Idempotency-Key that
// started conversation id: the first turn's answer while it is still the
// latest; ECONFLICT once messages followed it (its token is not handed out
// again then); EUNPROCESSABLE when the key came with another start.
func (rt *Runtime) replayStart(ctx context.Context, id, botID string, req *StartRequest) (*Conversation, *Turn, error) {
	unlock := rt.locks.lock(id)
	defer unlock()
	conv, err := rt.Store.Conversation(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if conv.BotID != botID || conv.Last.Key != req.Key || !conv.Last.IsStart() {
		return nil, nil, &Error{Code: ECONFLICT,
			Message: "the conversation this Idempotency-Key started has had messages since; start a new one with a new key"}
	}
	return rt.replay(ctx, conv, req.Digest())
}

// version returns a compiled published version, compiling it once.
func (rt *Runtime) version(ctx context.Context, botID string, n int) (*Compiled, error) {
	k := versionKey{botID, n}
	rt.mu.Lock()
	c, ok := rt.compiled[k]
	rt.mu.Unlock()
	if ok {
		return c, nil
	}
	v, err := rt.Bots.Version(ctx, botID, n)
	if err != nil {
		return nil, err
	}
	c = Compile(&v.Flow)
	rt.mu.Lock()
	if rt.compiled == nil || len(rt.compiled) >= maxCompiled {
		rt.compiled = map[versionKey]*Compiled{}
	}
	rt.compiled[k] = c
	rt.mu.Unlock()
	return c, nil
}

// Sweep removes conversations idle for longer than retention, every
// interval, until ctx ends.
func (rt *Runtime) Sweep(ctx context.Context, retention, interval time.Duration, onErr func(error), onSwept func(int)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := rt.Store.DeleteConversationsBefore(ctx, rt.now().Add(-retention))
		if err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		} else if n > 0 && onSwept != nil {
			onSwept(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (rt *Runtime) now() time.Time {
	if rt.Now != nil {
		return rt.Now().UTC()
	}
	return time.Now().UTC()
}

// keyedMutex is a set of mutexes by key that removes a key's mutex when
// nobody holds or waits for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
