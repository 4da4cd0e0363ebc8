package store

import (
	"context"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Snapshot makes a consistent copy of the database while flowbot keeps
// serving, and returns it to read from the start, with its size. The
// copy holds every turn acknowledged before the call: the journal is
// checkpointed into bbolt first. It is a bbolt file that Open uses as it
// is (put it in place of flowbot.db, with no flowbot.db.journal folder
// beside it).
//
// The copy is written to a temporary file next to the database, in one
// read transaction, so the transaction does not stay open while a slow
// client downloads it (a long one would hold up bbolt's file growth, and
// with it the checkpoints). The file is removed from the folder at once
// where the system allows (Unix); the caller reads it and closes it, and
// the space is freed then. On other systems it is removed on Close.
func (d *DB) Snapshot(ctx context.Context) (io.ReadCloser, int64, error) {
	if err := d.turns.checkpoint(ctx); err != nil {
		return nil, 0, internal("snapshot", err)
	}
	f, err := os.CreateTemp(filepath.Dir(d.db.Path()), filepath.Base(d.db.Path())+".snapshot-*")
	if err != nil {
		return nil, 0, internal("snapshot", err)
	}
	s := &snapshotFile{File: f}
	if os.Remove(f.Name()) != nil {
		s.remove = f.Name() // still there: remove it on Close
	}
	var size int64
	err = d.db.View(func(tx *bolt.Tx) error {
		size, err = tx.WriteTo(f)
		return err
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		s.Close()
		return nil, 0, internal("snapshot", err)
	}
	return s, size, nil
}

// snapshotFile is a copy of the database made by Snapshot.
type snapshotFile struct {
	*os.File
	remove string // the name to remove on Close, where it could not be at once
}

// Close closes the file and frees its space.
func (s *snapshotFile) Close() error {
	err := s.File.Close()
	if s.remove != "" {
		_ = os.Remove(s.remove)
	}
	return err
}
