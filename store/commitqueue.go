package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// maxBatch caps how many writes one commit takes. It is also the queue's
// buffer: when that many writes wait, further callers wait to enqueue.
const maxBatch = 256

// commitQueue lets many small writes share one bbolt commit and its fsync
// (group commit) while each caller still returns only after its own write
// is on disk.
//
// One committer goroutine takes the first waiting request, then whatever
// else is already queued (up to maxBatch), applies them all in one
// db.Update and wakes every caller with its result. There is no timer:
// when the store is idle a write costs one fsync and no added wait; under
// load the writes that arrive during one fsync form the next batch, so
// batches grow with the load. (bbolt's DB.Batch instead waits a fixed
// MaxBatchDelay for company.)
//
// Failure: bbolt cannot commit part of a transaction, so when a batch's
// transaction fails, each of its requests is retried alone in its own
// transaction and gets its own result; one bad write never fails the
// others. Requests must therefore be idempotent (SaveTurn is: it puts the
// same keys again).
type commitQueue struct {
	db   *bolt.DB
	reqs chan *commitReq

	// mu guards closed: enqueuers hold it for reading while they send, so
	// once close has set closed under the write lock, nothing more enters
	// reqs and the committer can drain it for good.
	mu     sync.RWMutex
	closed bool
	stop   chan struct{} // closed by close
	done   chan struct{} // closed when the committer has exited

	commits atomic.Uint64 // transactions committed (solo retries included)
	writes  atomic.Uint64 // requests in committed transactions
}

// commitReq is one write waiting for the committer.
type commitReq struct {
	// apply does the write inside the shared transaction. It may return a
	// *flow.Error only before it has written anything: that fails this
	// request alone and the batch goes on. Any other error aborts the
	// transaction.
	apply func(tx *bolt.Tx) error
	err   error
	done  chan struct{}
}

// newCommitQueue starts the committer for db.
func newCommitQueue(db *bolt.DB) *commitQueue {
	q := &commitQueue{
		db:   db,
		reqs: make(chan *commitReq, maxBatch),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go q.run()
	return q
}

// do queues apply and waits until the transaction that ran it has
// committed (or failed). ctx bounds only the wait for a place in the
// queue: once queued, do waits for the commit, so a write it acknowledged
// is never in doubt. After close it returns bolt.ErrDatabaseNotOpen.
func (q *commitQueue) do(ctx context.Context, apply func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &commitReq{apply: apply, done: make(chan struct{})}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return bolt.ErrDatabaseNotOpen
	}
	select {
	case q.reqs <- r:
	case <-ctx.Done():
		q.mu.RUnlock()
		return ctx.Err()
	}
	q.mu.RUnlock()
	<-r.done
	return r.err
}

// close refuses new requests, lets the committer commit the queued ones
// and waits for it to exit. It is safe to call more than once.
func (q *commitQueue) close() {
	q.mu.Lock()
	already := q.closed
	q.closed = true
	q.mu.Unlock()
	if !already {
		close(q.stop)
	}
	<-q.done
}

// stats returns how many transactions the queue committed and how many
// requests they held.
func (q *commitQueue) stats() (commits, writes uint64) {
	return q.commits.Load(), q.writes.Load()
}

func (q *commitQueue) run() {
	defer close(q.done)
	batch := make([]*commitReq, 0, maxBatch)
	for {
		select {
		case r := <-q.reqs:
			batch = q.fill(append(batch, r))
		case <-q.stop:
			// closed was set before stop was closed, so what is in reqs
			// now is all there will ever be: commit it and exit.
			for {
				if batch = q.fill(batch); len(batch) == 0 {
					return
				}
				q.commit(batch)
				batch = reset(batch)
			}
		}
		q.commit(batch)
		batch = reset(batch)
	}
}

// fill appends requests already queued, without waiting, up to maxBatch.
func (q *commitQueue) fill(batch []*commitReq) []*commitReq {
	for len(batch) < maxBatch {
		select {
		case r := <-q.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// reset empties batch, dropping its references so finished requests can
// be collected.
func reset(batch []*commitReq) []*commitReq {
	clear(batch)
	return batch[:0]
}

// commit runs batch in one transaction, or each request alone if that
// fails, and wakes every caller.
func (q *commitQueue) commit(batch []*commitReq) {
	if err := q.update(batch); err != nil && len(batch) > 1 {
		for i := range batch {
			_ = q.update(batch[i : i+1]) // sets batch[i].err
		}
	}
	for _, r := range batch {
		close(r.done)
	}
}

// update applies batch in one transaction and sets each request's err.
func (q *commitQueue) update(batch []*commitReq) error {
	err := q.db.Update(func(tx *bolt.Tx) error {
		for _, r := range batch {
			r.err = r.apply(tx)
			var fe *flow.Error
			if r.err != nil && !errors.As(r.err, &fe) {
				return r.err
			}
		}
		return nil
	})
	if err != nil {
		for _, r := range batch {
			r.err = err
		}
		return err
	}
	q.commits.Add(1)
	q.writes.Add(uint64(len(batch)))
	return nil
}
