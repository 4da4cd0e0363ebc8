package connections

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
)

// Service creates, rotates and reads connections, and applies their
// credentials to outbound requests (Authorize). Set the exported fields
// before first use and do not copy a Service after that.
type Service struct {
	// Store keeps the connections.
	Store Store
	// Keyring seals and opens credentials.
	Keyring *Keyring
	// Client fetches OAuth tokens. It should be the SSRF-guarded client
	// (NewGuardedClient); when nil, NewGuardedClient(false) is used.
	Client *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives what cannot be returned (a refusal that could not be
	// stored); slog.Default() when nil.
	Log *slog.Logger

	mu     sync.Mutex
	creds  map[string]credEntry   // decrypted credentials by connection name
	tokens map[string]*tokenEntry // OAuth tokens by connection name
	noting map[string]bool        // connections whose refusal is being written
	noted  map[string]noted       // when each connection's refusal was last written

	clientOnce    sync.Once
	defaultClient *http.Client
}

// credEntry is a cached decryption. It is used only while the stored
// connection still has the same UpdatedAt and sealed bytes, so a rotation
// (even one made by a clock that did not move) is never missed.
type credEntry struct {
	updatedAt time.Time
	sealed    []byte
	creds     Credentials
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Create validates req and stores a new connection made by actor, with its
// allowed domain in canonical form and its credentials sealed. It returns
// EUNPROCESSABLE with the problems as details when req is not valid, and
// ECONFLICT when the name is taken.
func (s *Service) Create(ctx context.Context, actor string, req NewConnection) (*Connection, error) {
	ps := ValidateNew(req)
	var expires *time.Time
	if req.ExpiresAt != nil {
		t, code, msg := flow.ParseExpiresAt(*req.ExpiresAt, s.now())
		if code != "" {
			ps.Add("/expires_at", code, msg)
		}
		expires = &t
	}
	if ps.HasErrors() {
		return nil, &flow.Error{Code: flow.EUNPROCESSABLE, Message: "the connection is not valid", Details: ps}
	}
	domain, err := CanonicalHost(req.AllowedDomain)
	if err != nil {
		return nil, err // ValidateNew already refused it
	}
	if _, err := s.Store.Connection(ctx, req.Name); err == nil {
		return nil, flow.Errorf(flow.ECONFLICT, "a connection named %q already exists", req.Name)
	} else if flow.ErrorCode(err) != flow.ENOTFOUND {
		return nil, err
	}
	now := s.now()
	c := &Connection{
		ID:              uuid.NewString(),
		Name:            req.Name,
		Type:            req.Type,
		AllowedDomain:   domain,
		AllowSubdomains: req.AllowSubdomains,
		CreatedAt:       now,
		UpdatedAt:       now,
		CreatedBy:       actor,
		ExpiresAt:       expires,
	}
	if err := s.seal(c, normalize(req.Type, req.Credentials)); err != nil {
		return nil, err
	}
	if err := s.Store.CreateConnection(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Rotate replaces the credentials of the named connection and clears its
// expiry date (see Update).
func (s *Service) Rotate(ctx context.Context, name string, creds Credentials) (*Connection, error) {
	return s.Update(ctx, name, Update{Credentials: &creds})
}

// Update changes a connection: what it sets of its credentials and
// expiry date.
type Update struct {
	// Credentials, when set, replace the connection's credentials (its
	// type cannot change). New credentials are not known to be refused,
	// and the old expiry date was theirs: unless ExpiresAt is set too, the
	// connection has none after that.
	Credentials *Credentials
	// ExpiresAt, when set, is the new expiry date: an RFC 3339 time after
	// now, or "" for none.
	ExpiresAt *string
	// Version, when set, is the UpdatedAt of the connection the change was
	// made from (a client's earlier read): the change is refused when the
	// connection has had new credentials since, so an expiry date meant
	// for the old ones never lands on the new.
	Version *time.Time
}

// Update applies u to the named connection. New credentials are a new
// version (UpdatedAt): they drop its cached credentials and OAuth token and
// clear its refusal. A new date alone keeps the version and the refusal. It returns
// ENOTFOUND, ECONFLICT when u.Version is set and is not the connection's
// (or when another update comes between this one's read and write), or
// EUNPROCESSABLE with the problems as details when u is not valid for the
// connection (or sets nothing).
func (s *Service) Update(ctx context.Context, name string, u Update) (*Connection, error) {
	c, err := s.Store.Connection(ctx, name)
	if err != nil {
		return nil, err
	}
	read := c.UpdatedAt
	if u.Version != nil && !u.Version.Equal(read) {
		return nil, flow.Errorf(flow.ECONFLICT, "connection %q has had new credentials since the version the change was made from", name)
	}
	var ps flow.Problems
	if u.Credentials != nil {
		ps = ValidateCredentials(c.Type, *u.Credentials)
	}
	var expires *time.Time
	if u.ExpiresAt != nil && *u.ExpiresAt != "" {
		t, code, msg := flow.ParseExpiresAt(*u.ExpiresAt, s.now())
		if code != "" {
			ps.Add("/expires_at", code, msg)
		}
		expires = &t
	}
	if u.Credentials == nil && u.ExpiresAt == nil {
		ps.Add("/credentials", "required", "send credentials to rotate them, or expires_at to change the expiry date")
	}
	if ps.HasErrors() {
		msg := ps[0].Message
		if u.Credentials != nil && ps[0].Pointer != "/expires_at" {
			msg = "the credentials are not valid for connection type " + c.Type
		}
		return nil, &flow.Error{Code: flow.EUNPROCESSABLE, Message: msg, Details: ps}
	}
	if u.Credentials != nil {
		if err := s.seal(c, normalize(c.Type, *u.Credentials)); err != nil {
			return nil, err
		}
		// A new version: the store clears the refusal of the old one.
		c.UpdatedAt = s.now()
		c.ExpiresAt = nil
	}
	if u.ExpiresAt != nil {
		c.ExpiresAt = expires
	}
	if err := s.Store.UpdateConnection(ctx, c, read); err != nil {
		return nil, err
	}
	if u.Credentials != nil {
		s.forget(name)
	}
	return c, nil
}

// Get returns the named connection. Returns ENOTFOUND.
func (s *Service) Get(ctx context.Context, name string) (*Connection, error) {
	return s.Store.Connection(ctx, name)
}

// List returns every connection by name.
func (s *Service) List(ctx context.Context) ([]*Connection, error) {
	return s.Store.Connections(ctx)
}

// Delete removes the named connection and forgets its cached credentials.
// The caller checks first that no published bot uses it. Returns ENOTFOUND.
func (s *Service) Delete(ctx context.Context, name string) error {
	err := s.Store.DeleteConnection(ctx, name)
	s.forget(name)
	return err
}

// Credentials returns the named connection and its credentials in clear.
// Decryptions are cached, as this runs on every api_call. Returns ENOTFOUND.
func (s *Service) Credentials(ctx context.Context, name string) (Credentials, *Connection, error) {
	c, err := s.Store.Connection(ctx, name)
	if err != nil {
		return Credentials{}, nil, err
	}
	s.mu.Lock()
	e, ok := s.creds[name]
	s.mu.Unlock()
	if ok && e.updatedAt.Equal(c.UpdatedAt) && bytes.Equal(e.sealed, c.Sealed) {
		return cloneCredentials(e.creds), c, nil
	}
	creds, err := s.open(c)
	if err != nil {
		return Credentials{}, nil, err
	}
	s.mu.Lock()
	if s.creds == nil {
		s.creds = map[string]credEntry{}
	}
	s.creds[name] = credEntry{updatedAt: c.UpdatedAt, sealed: c.Sealed, creds: creds}
	s.mu.Unlock()
	return cloneCredentials(creds), c, nil
}

// Reseal reseals with the current key every connection sealed with an older
// key of the ring, after a key rotation. It returns how many it resealed.
func (s *Service) Reseal(ctx context.Context) (int, error) {
	cs, err := s.Store.Connections(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cs {
		if v, ok := SealedVersion(c.Sealed); ok && v == s.Keyring.Current() {
			continue
		}
		creds, err := s.open(c)
		if err != nil {
			return n, err
		}
		if err := s.seal(c, creds); err != nil {
			return n, err
		}
		if err := s.Store.UpdateConnection(ctx, c, c.UpdatedAt); err != nil {
			return n, err
		}
		s.forget(c.Name)
		n++
	}
	return n, nil
}

// seal sets c.Sealed and c.Public from creds.
func (s *Service) seal(c *Connection, creds Credentials) error {
	b, err := json.Marshal(creds)
	if err != nil {
		return err
	}
	sealed, err := s.Keyring.Seal(c.ID, b)
	if err != nil {
		return err
	}
	c.Sealed = sealed
	c.Public = Public(creds)
	return nil
}

func (s *Service) open(c *Connection) (Credentials, error) {
	b, err := s.Keyring.Open(c.ID, c.Sealed)
	if err != nil {
		return Credentials{}, fmt.Errorf("open the credentials of connection %q: %w", c.Name, err)
	}
	var creds Credentials
	if err := json.Unmarshal(b, &creds); err != nil {
		return Credentials{}, fmt.Errorf("decode the credentials of connection %q: stored value is malformed", c.Name)
	}
	return creds, nil
}

// forget drops the cached credentials and OAuth token of a connection.
func (s *Service) forget(name string) {
	s.mu.Lock()
	delete(s.creds, name)
	delete(s.tokens, name)
	s.mu.Unlock()
}

func cloneCredentials(c Credentials) Credentials {
	c.Scopes = slices.Clone(c.Scopes)
	return c
}
