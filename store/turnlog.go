package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// turnLog makes conversation turns durable through the journal and moves
// them into bbolt in the background (a checkpoint), many at a time.
//
// One committer goroutine takes the first waiting turn, then whatever
// else is already queued (up to maxBatch), checks each against the
// current state, appends the batch to the journal in one write and one
// fdatasync, and only then makes the turns visible (in the active
// overlay) and wakes their callers. There is no timer: an idle store
// writes a turn at once; under load the turns that arrive during one
// fdatasync form the next batch, so batches grow with the load.
//
// Reads look at the overlays first (active, then the one being
// checkpointed), then at bbolt. The checkpointer goroutine writes a
// frozen overlay into bbolt in one transaction, together with the LSN of
// its last turn, and then drops it; a crash before that loses nothing,
// because Open replays the journal records after that LSN.
//
// A turn costs the caller one shared sequential write and fdatasync
// (~0.3 ms here) instead of a bbolt commit (two fdatasyncs and a write per
// dirty page); and a checkpoint that holds many turns of one conversation
// writes its state once.
type turnLog struct {
	db *bolt.DB
	j  *journal

	reqs chan *turnReq

	// qmu guards closed. Callers hold it for reading while they wait to
	// enqueue, so once close has set closed under the write lock nothing
	// more enters reqs. Nothing else takes qmu: a caller blocked on a full
	// queue must never hold a lock the committer needs.
	qmu    sync.RWMutex
	closed bool
	// closeErr is what close returns; set once, by the first close.
	closeOnce sync.Once
	closeErr  error

	// mu guards the fields below it. The committer is the only goroutine
	// that changes active; readers and the retention sweep hold mu for
	// reading or writing briefly.
	mu       sync.RWMutex
	active   *overlay            // turns journaled since the last freeze
	frozen   *overlay            // turns being checkpointed, or nil
	inflight map[string]int      // conversations with a turn between its check and the overlay
	deleting map[string]struct{} // conversations the retention sweep is removing
	broken   error               // set when a journal write failed: no turn is accepted after it

	checkpoints chan *overlay   // committer -> checkpointer, one at a time
	checkpointd chan struct{}   // checkpointer -> committer: frozen dropped
	flushNow    chan chan error // Checkpoint requests
	stop        chan struct{}   // closed by close
	done        chan struct{}   // closed when the committer has exited
	ckptDone    chan struct{}   // closed when the checkpointer has exited
	ckptErr     error           // the last checkpoint's error, nil once one commits
	applied     atomic.Uint64   // LSN of the last turn in bbolt
	ckptBusy    bool            // committer only: an overlay is with the checkpointer
	abandoned   bool            // committer only: a checkpoint was given up at close; none may follow it
	lastSync    time.Time       // committer only: when the last journal write started
	lastBatch   int             // committer only: how many turns it took
	stats       turnStats
	// beforeCommit, when set, runs in every commit once the batch's
	// conversations are marked in flight; tests use it to hold the
	// committer there while turns queue up.
	beforeCommit atomic.Pointer[func()]
	// checkpointFault, when set, runs inside every checkpoint transaction
	// with the LSN of the overlay's last turn; an error it returns fails
	// the checkpoint (tests).
	checkpointFault atomic.Pointer[func(lastLSN uint64) error]
	// checkpointed, when set, runs after each checkpoint transaction has
	// committed and before the journal may reuse the segments it made
	// redundant (tests: the power-loss model copies the database file).
	checkpointed atomic.Pointer[func()]
	limits       turnLogOptions
	waiters      []chan error // Checkpoint calls waiting for the current freeze
	pendingWait  []chan error // Checkpoint calls waiting for the next freeze
}

// turnStats counts the journal's work, for benchmarks and metrics.
type turnStats struct {
	syncs       atomic.Uint64 // journal write+fdatasync batches
	turns       atomic.Uint64 // turns in them
	checkpoints atomic.Uint64 // bbolt transactions that moved overlays in
}

// turnLogOptions say when the committer freezes the active overlay for
// a checkpoint: when it holds maxTurns turns or maxBytes bytes, or when
// its oldest turn is maxAge old; how big a journal segment grows; and
// the shortest time between the starts of two journal writes.
type turnLogOptions struct {
	maxTurns    int
	maxBytes    int
	maxAge      time.Duration
	segmentSize int64
	// minSyncInterval: a turn that arrives sooner than this after the
	// previous journal write started waits for the rest of the interval,
	// collecting company. An fdatasync costs ~140 µs of CPU on this kind
	// of VM (virtio), as much as a third of a turn, so under load fewer,
	// bigger writes leave more CPU for turns; an idle store still writes
	// a turn at once.
	minSyncInterval time.Duration
}

var defaultTurnLogOptions = turnLogOptions{
	maxTurns: 8192, maxBytes: 16 << 20, maxAge: 500 * time.Millisecond,
	segmentSize: defaultSegmentSize, minSyncInterval: time.Millisecond,
}

// maxOverlayFactor × maxBytes is how much journaled turns may wait in
// memory for checkpoints before new turns are refused: a checkpoint that
// keeps failing must not grow memory without bound.
const maxOverlayFactor = 16

// maxBatch caps how many turns one journal write takes. It is also the
// queue's buffer: when that many turns wait, further callers wait to
// enqueue.
const maxBatch = 512

// turnReq is one turn waiting for the committer.
type turnReq struct {
	p    *preparedTurn
	err  error
	done chan struct{}
}

// overlay holds journaled turns that bbolt does not have yet, by
// conversation. Once frozen it is never changed again.
type overlay struct {
	convs   map[string]*pendingConv
	tokens  map[string]string // token hash -> conversation id; "" = token removed
	lastLSN uint64
	turns   int
	bytes   int
	since   time.Time // when its first turn arrived
}

// pendingConv is a conversation's newest state and the entries added
// since the overlay started.
type pendingConv struct {
	state []byte     // state value as bbolt stores it (header + record)
	turns []keyValue // turns-bucket values added since the overlay started
}

func newOverlay() *overlay {
	return &overlay{convs: map[string]*pendingConv{}, tokens: map[string]string{}}
}

// newTurnLog replays the journal in dir into db and starts the committer
// and the checkpointer.
func newTurnLog(db *bolt.DB, dir string, limits turnLogOptions) (*turnLog, error) {
	applied, err := journalApplied(db)
	if err != nil {
		return nil, err
	}
	next, files, err := replayInto(db, dir, applied)
	if err != nil {
		return nil, fmt.Errorf("replay journal: %w", err)
	}
	j, err := openJournal(dir, next, files, limits.segmentSize)
	if err != nil {
		return nil, err
	}
	l := &turnLog{
		db: db, j: j,
		reqs:        make(chan *turnReq, maxBatch),
		active:      newOverlay(),
		inflight:    map[string]int{},
		deleting:    map[string]struct{}{},
		checkpoints: make(chan *overlay),
		checkpointd: make(chan struct{}, 1),
		flushNow:    make(chan chan error),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		ckptDone:    make(chan struct{}),
		limits:      limits,
	}
	l.applied.Store(next - 1)
	go l.run()
	go l.checkpointer()
	return l, nil
}

// journalApplied reads the LSN of the last journal record stored in bbolt.
func journalApplied(db *bolt.DB) (uint64, error) {
	var n uint64
	err := db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyJournalLSN); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n, err
}

// replayChunk is how many journal records one replay transaction takes.
const replayChunk = 4096

// replayInto applies the journal records after applied to bbolt, in
// transactions of replayChunk records, and returns the next LSN and the
// segment files.
func replayInto(db *bolt.DB, dir string, applied uint64) (uint64, []string, error) {
	var batch []*journalTurn
	var last uint64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := db.Update(func(tx *bolt.Tx) error {
			for _, t := range batch {
				if err := applyState(tx, t.id, t.state, t.turns); err != nil {
					return err
				}
				// Records of the first journal format carry entries
				// for the per-entry buckets.
				if err := putAll(tx.Bucket(bucketTranscripts), t.legacyTranscript); err != nil {
					return err
				}
				if err := putAll(tx.Bucket(bucketLogs), t.legacyLog); err != nil {
					return err
				}
			}
			return putJournalLSN(tx, last)
		})
		batch = batch[:0]
		return err
	}
	next, files, err := replayJournal(dir, applied, func(lsn uint64, payload []byte) error {
		t, err := decodeJournalTurn(payload)
		if err != nil {
			return fmt.Errorf("record %d: %w", lsn, err)
		}
		batch, last = append(batch, t), lsn
		if len(batch) == replayChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	if err := flush(); err != nil {
		return 0, nil, err
	}
	return next, files, nil
}

func putJournalLSN(tx *bolt.Tx, lsn uint64) error {
	return tx.Bucket(bucketMeta).Put(keyJournalLSN, binary.BigEndian.AppendUint64(nil, lsn))
}

// save queues a prepared turn and waits until it is journaled (or
// refused). ctx bounds only the wait for a place in the queue.
func (l *turnLog) save(ctx context.Context, p *preparedTurn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &turnReq{p: p, done: make(chan struct{})}
	l.qmu.RLock()
	if l.closed {
		l.qmu.RUnlock()
		return bolt.ErrDatabaseNotOpen
	}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		l.qmu.RUnlock()
		return ctx.Err()
	}
	l.qmu.RUnlock()
	<-r.done
	return r.err
}

// checkpoint moves every turn journaled so far into bbolt and returns when
// that transaction has committed.
func (l *turnLog) checkpoint(ctx context.Context) error {
	ch := make(chan error, 1)
	select {
	case l.flushNow <- ch:
	case <-l.done:
		return bolt.ErrDatabaseNotOpen
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close refuses new turns, journals the queued ones, checkpoints
// everything into bbolt and closes the journal. It returns the error of a
// checkpoint it had to give up (the turns stay in the journal, and Open
// replays them). Safe to call more than once, also concurrently.
func (l *turnLog) close() error {
	l.closeOnce.Do(func() {
		l.qmu.Lock()
		l.closed = true
		l.qmu.Unlock()
		close(l.stop)
		<-l.done
		<-l.ckptDone
		l.mu.RLock()
		ckptErr := l.ckptErr
		l.mu.RUnlock()
		l.closeErr = errors.Join(ckptErr, l.j.close())
	})
	return l.closeErr
}

// run is the committer.
func (l *turnLog) run() {
	defer close(l.done)
	defer close(l.checkpoints) // the checkpointer exits when this closes
	batch := make([]*turnReq, 0, maxBatch)
	tick := time.NewTicker(l.limits.maxAge / 2)
	defer tick.Stop()
	for {
		select {
		case r := <-l.reqs:
			batch = l.gather(append(batch, r))
			l.lastSync, l.lastBatch = time.Now(), len(batch)
			l.commit(batch)
			batch = resetBatch(batch)
		case ch := <-l.flushNow:
			l.pendingWait = append(l.pendingWait, ch)
		case <-l.checkpointd:
			l.finishCheckpoint()
		case <-tick.C:
		case <-l.stop:
			// closed was set before stop was closed, so what is in reqs
			// now is all there will ever be.
			for {
				if batch = l.fill(batch); len(batch) == 0 {
					break
				}
				l.commit(batch)
				batch = resetBatch(batch)
			}
			l.drainCheckpoints()
			return
		}
		l.maybeFreeze(false)
	}
}

// drainCheckpoints checkpoints everything before the committer exits.
func (l *turnLog) drainCheckpoints() {
	for {
		if l.ckptBusy {
			<-l.checkpointd
			l.finishCheckpoint()
			continue
		}
		l.mu.RLock()
		empty := l.active.turns == 0
		l.mu.RUnlock()
		if empty || l.abandoned {
			l.maybeFreeze(true) // answers waiting Checkpoint calls
			return
		}
		l.maybeFreeze(true)
	}
}

// finishCheckpoint runs in the committer after the checkpointer dropped
// the frozen overlay: it releases journal space and answers the
// Checkpoint calls that waited for it.
func (l *turnLog) finishCheckpoint() {
	l.ckptBusy = false
	l.mu.RLock()
	err := l.ckptErr
	l.mu.RUnlock()
	if err != nil {
		// The checkpointer gave up (closing). Committing a newer overlay
		// would record a journal LSN past turns bbolt lacks, and let
		// their segments be reused: freeze nothing more.
		l.abandoned = true
		err = fmt.Errorf("checkpoint turns into bbolt: %w", err)
	} else {
		// A file that could not be removed is tried again at the next
		// release.
		_ = l.j.release(l.applied.Load())
	}
	for _, ch := range l.waiters {
		ch <- err
	}
	l.waiters = l.waiters[:0]
}

// maybeFreeze hands the active overlay to the checkpointer when the
// checkpointer is idle and the overlay is big or old enough, or when a
// Checkpoint call waits (or force is set).
func (l *turnLog) maybeFreeze(force bool) {
	if l.ckptBusy {
		return
	}
	if l.abandoned {
		for _, ch := range l.pendingWait {
			ch <- errors.New("checkpoint turns into bbolt: given up at close; the journal keeps the turns")
		}
		l.pendingWait = l.pendingWait[:0]
		return
	}
	a := l.active // only the committer changes active
	due := a.turns >= l.limits.maxTurns || a.bytes >= l.limits.maxBytes ||
		a.turns > 0 && time.Since(a.since) >= l.limits.maxAge
	if !due && !force && len(l.pendingWait) == 0 {
		return
	}
	if a.turns == 0 {
		for _, ch := range l.pendingWait {
			ch <- l.brokenErr()
		}
		l.pendingWait = l.pendingWait[:0]
		return
	}
	l.mu.Lock()
	l.frozen, l.active = a, newOverlay()
	l.mu.Unlock()
	l.waiters = append(l.waiters, l.pendingWait...)
	l.pendingWait = l.pendingWait[:0]
	l.ckptBusy = true
	l.checkpoints <- a
}

// health returns why turns cannot be stored right now, or nil: the
// journal failed, or the last checkpoint into bbolt did.
func (l *turnLog) health() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.broken != nil {
		return l.broken
	}
	if l.ckptErr != nil {
		return fmt.Errorf("checkpoint turns into bbolt: %w", l.ckptErr)
	}
	return nil
}

func (l *turnLog) brokenErr() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.broken
}

// checkpointer writes frozen overlays into bbolt, retrying a failed
// transaction every second until it commits.
func (l *turnLog) checkpointer() {
	defer close(l.ckptDone)
	for o := range l.checkpoints {
		for {
			err := l.db.Update(func(tx *bolt.Tx) error {
				if f := l.checkpointFault.Load(); f != nil {
					if err := (*f)(o.lastLSN); err != nil {
						return err
					}
				}
				for id, pc := range o.convs {
					if err := applyState(tx, []byte(id), pc.state, pc.turns); err != nil {
						return err
					}
				}
				return putJournalLSN(tx, o.lastLSN)
			})
			l.mu.Lock()
			l.ckptErr = err
			l.mu.Unlock()
			if err == nil {
				if f := l.checkpointed.Load(); f != nil {
					(*f)()
				}
				break
			}
			// The turns stay in the journal and in the overlay, so reads
			// and a restart still see them. When closing, give up: Open
			// replays them.
			select {
			case <-l.stop:
			case <-time.After(time.Second):
				continue
			}
			break
		}
		l.mu.Lock()
		if l.ckptErr == nil {
			l.applied.Store(o.lastLSN)
			l.stats.checkpoints.Add(1)
			l.frozen = nil
		}
		l.mu.Unlock()
		l.checkpointd <- struct{}{}
	}
}

// gather adds to batch the turns already queued and, when the last
// journal write carried more than one turn (turns are arriving
// concurrently), those that arrive until minSyncInterval has passed since
// that write started; up to maxBatch. A lone writer never waits.
func (l *turnLog) gather(batch []*turnReq) []*turnReq {
	wait := l.limits.minSyncInterval - time.Since(l.lastSync)
	if wait <= 0 || l.lastBatch < 2 {
		return l.fill(batch)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(batch) < maxBatch {
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		case <-t.C:
			return l.fill(batch)
		}
	}
	return batch
}

// fill appends turns already queued, without waiting, up to maxBatch.
func (l *turnLog) fill(batch []*turnReq) []*turnReq {
	for len(batch) < maxBatch {
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// resetBatch empties batch, dropping its references so finished requests
// can be collected.
func resetBatch(batch []*turnReq) []*turnReq {
	clear(batch)
	return batch[:0]
}

// prevState is what a turn must know about its conversation's stored
// state.
type prevState struct {
	exists bool
	token  []byte
}

// commit checks, journals and publishes one batch, and wakes its callers.
func (l *turnLog) commit(batch []*turnReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	// 1. Under mu: refuse turns of conversations being deleted, mark the
	// rest in flight (so the retention sweep leaves them alone until they
	// are in the overlay), and take what the overlays know.
	prev := make([]prevState, len(batch))
	known := make([]bool, len(batch))
	owners := make([]tokenOwner, len(batch))
	var marked []string
	l.mu.Lock()
	if l.broken != nil {
		err := l.broken
		l.mu.Unlock()
		for _, r := range batch {
			r.err = err
		}
		return
	}
	if held := l.overlayBytesLocked(); held > maxOverlayFactor*l.limits.maxBytes {
		l.mu.Unlock()
		err := fmt.Errorf("turns are not reaching the database file (checkpoints failing or behind, %d MiB waiting): refusing new turns until they do", held>>20)
		for _, r := range batch {
			r.err = err
		}
		return
	}
	for i, r := range batch {
		id := string(r.p.id)
		if _, ok := l.deleting[id]; ok {
			r.err = flow.Errorf(flow.ENOTFOUND, "conversation %s not found: it was removed (retention) while this turn ran", id)
			continue
		}
		l.inflight[id]++
		marked = append(marked, id)
		if st := l.overlayStateLocked(id); st != nil {
			h, _ := decodeStateHeader(st) // encoded by prepareTurn
			prev[i], known[i] = prevState{exists: true, token: h.tokenHash}, true
		}
		// Who holds the turn's new token: the overlays are asked before
		// bbolt (step 2), so a checkpoint in between cannot hide it.
		if h := r.p.tokenHash; len(h) > 0 {
			owners[i].id, owners[i].known = l.overlayTokenLocked(h)
		}
	}
	l.mu.Unlock()
	if f := l.beforeCommit.Load(); f != nil {
		(*f)()
	}
	defer func() {
		l.mu.Lock()
		for _, id := range marked {
			if l.inflight[id]--; l.inflight[id] <= 0 {
				delete(l.inflight, id)
			}
		}
		l.mu.Unlock()
	}()

	// 2. What bbolt knows, for the rest (read after the in-flight mark, so
	// a conversation the sweep removed is seen as gone).
	if err := l.db.View(func(tx *bolt.Tx) error {
		convs := tx.Bucket(bucketConversations)
		byToken := tx.Bucket(bucketConversationsByToken)
		for i, r := range batch {
			if r.err != nil {
				continue
			}
			if h := r.p.tokenHash; len(h) > 0 && !owners[i].known {
				owners[i] = tokenOwner{id: string(byToken.Get(h)), known: true}
			}
			if known[i] {
				continue
			}
			if v := convs.Get(r.p.id); v != nil {
				h, err := decodeStateHeader(v)
				if err != nil {
					r.err = fmt.Errorf("conversation %s: %w", r.p.id, err) // this turn only
					continue
				}
				prev[i] = prevState{exists: true, token: bytes.Clone(h.tokenHash)}
			}
		}
		return nil
	}); err != nil {
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
		}
		return
	}

	// 3. Check each turn against the state before it (earlier turns of
	// the batch included) and encode the records.
	local := map[string]prevState{}    // conversations changed earlier in this batch
	localTokens := map[string]string{} // tokens set or removed earlier in this batch
	payloads := make([][]byte, 0, len(batch))
	var ok []*turnReq
	var finals []resolvedTurn
	for i, r := range batch {
		if r.err != nil {
			continue
		}
		p := r.p
		pv, seen := local[string(p.id)]
		if !seen {
			pv = prev[i]
		}
		res, err := resolve(p, pv, localTokens, owners[i].id)
		if err != nil {
			r.err = err
			continue
		}
		local[string(p.id)] = prevState{exists: true, token: res.token}
		if !bytes.Equal(res.token, pv.token) {
			if len(pv.token) > 0 {
				localTokens[string(pv.token)] = ""
			}
			if len(res.token) > 0 {
				localTokens[string(res.token)] = string(p.id)
			}
		}
		res.oldToken = pv.token
		payloads = append(payloads, encodeJournalTurn(p.id, res.state, p.turn))
		ok = append(ok, r)
		finals = append(finals, res)
	}
	if len(ok) == 0 {
		return
	}

	// 4. Journal the batch: one write, one fdatasync.
	first, err := l.j.append(payloads)
	if err != nil {
		l.mu.Lock()
		l.broken = fmt.Errorf("journal failed; no turn is accepted until flowbot restarts: %w", err)
		l.mu.Unlock()
		for _, r := range ok {
			r.err = err
		}
		return
	}
	l.stats.syncs.Add(1)
	l.stats.turns.Add(uint64(len(ok)))

	// 5. Publish the turns in the active overlay.
	l.mu.Lock()
	a := l.active
	if a.turns == 0 {
		a.since = time.Now()
	}
	for i, r := range ok {
		p, res := r.p, finals[i]
		pc := a.convs[string(p.id)]
		if pc == nil {
			pc = &pendingConv{}
			a.convs[string(p.id)] = pc
		}
		pc.state = res.state
		pc.turns = append(pc.turns, p.turn...)
		if !bytes.Equal(res.token, res.oldToken) {
			if len(res.oldToken) > 0 {
				a.tokens[string(res.oldToken)] = ""
			}
			if len(res.token) > 0 {
				a.tokens[string(res.token)] = string(p.id)
			}
		}
		a.turns++
		a.bytes += len(payloads[i])
	}
	a.lastLSN = first + uint64(len(ok)) - 1
	l.mu.Unlock()
}

// resolvedTurn is a turn after its checks: the token it leaves and the
// state value to store.
type resolvedTurn struct {
	token    []byte
	oldToken []byte
	state    []byte
}

// resolve applies a turn's rules to the state before it: a turn that must
// continue a conversation needs it to exist, an empty token hash keeps the
// old one, and a new token must not belong to another conversation.
// owner is who held p's token hash before this batch ("" for nobody);
// localTokens has the batch's own changes, which come after.
func resolve(p *preparedTurn, pv prevState, localTokens map[string]string, owner string) (resolvedTurn, error) {
	if !pv.exists && p.mustExist {
		return resolvedTurn{}, flow.Errorf(flow.ENOTFOUND, "conversation %s not found: it was removed (retention) while this turn ran", p.id)
	}
	token, state := p.tokenHash, p.state
	if len(token) == 0 && len(pv.token) > 0 {
		token, state = pv.token, encodeState(p.updated, pv.token, p.record)
	}
	if len(token) > 0 && !bytes.Equal(token, pv.token) {
		if id, ok := localTokens[string(token)]; ok {
			owner = id
		}
		if owner != "" && owner != string(p.id) {
			return resolvedTurn{}, flow.Errorf(flow.ECONFLICT, "conversation token is already in use")
		}
	}
	return resolvedTurn{token: token, state: state}, nil
}

// tokenOwner is who holds a token hash; known is false until the overlays
// or bbolt have said.
type tokenOwner struct {
	id    string
	known bool
}

// overlayToken looks a token hash up in the overlays; ok is false when
// they do not know it (bbolt decides).
func (l *turnLog) overlayToken(h []byte) (id string, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.overlayTokenLocked(h)
}

func (l *turnLog) overlayTokenLocked(h []byte) (id string, ok bool) {
	for _, o := range []*overlay{l.active, l.frozen} {
		if o == nil {
			continue
		}
		if id, ok := o.tokens[string(h)]; ok {
			return id, true
		}
	}
	return "", false
}

// overlayBytesLocked is the journal bytes of the turns the overlays hold.
func (l *turnLog) overlayBytesLocked() int {
	n := l.active.bytes
	if l.frozen != nil {
		n += l.frozen.bytes
	}
	return n
}

// overlayState returns the newest state value of conversation id held in
// an overlay, or nil.
func (l *turnLog) overlayState(id string) []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.overlayStateLocked(id)
}

func (l *turnLog) overlayStateLocked(id string) []byte {
	for _, o := range []*overlay{l.active, l.frozen} {
		if o == nil {
			continue
		}
		if pc := o.convs[id]; pc != nil {
			return pc.state
		}
	}
	return nil
}

// overlayEntries returns the turns-bucket values of conversation id held
// in the overlays, oldest first, and whether an overlay holds the
// conversation at all.
func (l *turnLog) overlayEntries(id string) ([]keyValue, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []keyValue
	found := false
	for _, o := range []*overlay{l.frozen, l.active} {
		if o == nil {
			continue
		}
		if pc := o.convs[id]; pc != nil {
			found = true
			out = append(out, pc.turns...)
		}
	}
	return out, found
}

// beginDelete marks the conversations in ids that no overlay or running
// turn touches as being deleted, and returns them: turns of these
// conversations are refused until endDelete. The others are left for a
// later sweep (their newest state is not in bbolt yet).
func (l *turnLog) beginDelete(ids [][]byte) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]byte
	for _, id := range ids {
		s := string(id)
		if l.inflight[s] > 0 {
			continue
		}
		if l.active.convs[s] != nil || l.frozen != nil && l.frozen.convs[s] != nil {
			continue
		}
		l.deleting[s] = struct{}{}
		out = append(out, id)
	}
	return out
}

// endDelete ends what beginDelete started.
func (l *turnLog) endDelete(ids [][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		delete(l.deleting, string(id))
	}
}

// applyState writes a conversation's state and new turns-bucket values
// into bbolt, keeping the token and retention indexes in step. The turn's
// rules were checked before it was journaled.
func applyState(tx *bolt.Tx, id, state []byte, turns []keyValue) error {
	h, err := decodeStateHeader(state)
	if err != nil {
		return fmt.Errorf("conversation %s: %w", id, err)
	}
	convs := tx.Bucket(bucketConversations)
	byToken := tx.Bucket(bucketConversationsByToken)
	byUpdated := tx.Bucket(bucketConversationsByUpdated)
	var (
		exists     bool
		oldUpdated uint64
		oldToken   []byte
	)
	if v := convs.Get(id); v != nil {
		old, err := decodeStateHeader(v)
		if err != nil {
			return fmt.Errorf("conversation %s: %w", id, err)
		}
		exists, oldUpdated, oldToken = true, old.updated, bytes.Clone(old.tokenHash)
	}
	if exists && oldUpdated != h.updated {
		if err := byUpdated.Delete(updatedKey(oldUpdated, id)); err != nil {
			return err
		}
	}
	if !bytes.Equal(h.tokenHash, oldToken) {
		if len(oldToken) > 0 {
			if owner := byToken.Get(oldToken); bytes.Equal(owner, id) {
				if err := byToken.Delete(oldToken); err != nil {
					return err
				}
			}
		}
		if len(h.tokenHash) > 0 {
			if err := byToken.Put(h.tokenHash, id); err != nil {
				return err
			}
		}
	}
	if err := convs.Put(id, state); err != nil {
		return err
	}
	if !exists || oldUpdated != h.updated {
		if err := byUpdated.Put(updatedKey(h.updated, id), []byte{}); err != nil {
			return err
		}
	}
	return putAll(tx.Bucket(bucketTurns), turns)
}

// journalTurn is a decoded journal record.
type journalTurn struct {
	id, state []byte
	turns     []keyValue
	// legacyTranscript and legacyLog are the per-entry values of records
	// written before the turns bucket existed.
	legacyTranscript, legacyLog []keyValue
}

// encodeJournalTurn encodes a turn as a journal record's payload:
// uvarint-length-prefixed id and state, then three lists, each a uvarint
// count of length-prefixed key/value pairs: transcript entries and log
// entries of the first format (always empty now), then turns-bucket
// values. A record of the first format ends after the second list.
func encodeJournalTurn(id, state []byte, turns []keyValue) []byte {
	n := 5*binary.MaxVarintLen32 + len(id) + len(state)
	for _, kv := range turns {
		n += 2*binary.MaxVarintLen32 + len(kv.k) + len(kv.v)
	}
	b := make([]byte, 0, n)
	b = appendBytes(b, id)
	b = appendBytes(b, state)
	b = binary.AppendUvarint(b, 0) // no transcript entries of the first format
	b = binary.AppendUvarint(b, 0) // nor log entries
	b = binary.AppendUvarint(b, uint64(len(turns)))
	for _, kv := range turns {
		b = appendBytes(appendBytes(b, kv.k), kv.v)
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

var errBadRecord = errors.New("malformed journal record")

func decodeJournalTurn(b []byte) (*journalTurn, error) {
	d := decoder{b: b}
	t := &journalTurn{id: d.bytes(), state: d.bytes()}
	lists := []*[]keyValue{&t.legacyTranscript, &t.legacyLog, &t.turns}
	for i, dst := range lists {
		if i == 2 && len(d.b) == 0 {
			break // a record of the first format
		}
		n := d.count(2)
		for range n {
			*dst = append(*dst, keyValue{d.bytes(), d.bytes()})
		}
	}
	if d.err || len(d.b) != 0 || len(t.id) == 0 {
		return nil, errBadRecord
	}
	return t, nil
}

// decoder reads uvarints and length-prefixed byte strings, remembering
// the first error.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err, d.b = true, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
