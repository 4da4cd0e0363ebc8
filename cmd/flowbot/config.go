package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
)

// errHelp is returned when -h was asked for.
var errHelp = errors.New("help requested")

// Config is every setting of the service (SPEC §6), in one typed struct.
type Config struct {
	Addr       string
	DataDir    string
	AdminToken string
	SecretKey  string
	// UserTokenSecret verifies the user_token a conversation may start
	// with (HS256); empty: user tokens are not accepted.
	UserTokenSecret string
	// HandoffURL, when set, gets a signed notice (HMAC with
	// HandoffSecret) each time a conversation is handed to a human.
	HandoffURL           string
	HandoffSecret        string
	AllowPrivateNetworks bool
	// LogBodies keeps the first 2 KiB of each api_call's request and
	// response bodies in the execution log.
	LogBodies bool
	// ShutdownTimeout bounds graceful shutdown after SIGTERM.
	ShutdownTimeout time.Duration
	// Retention is how long ended and idle conversations are kept.
	Retention time.Duration
	// CommitDelay lets concurrent turns share a journal fdatasync (see
	// store.Options).
	CommitDelay time.Duration
	// PprofAddr, when set, serves net/http/pprof on this loopback address.
	PprofAddr string
	LogLevel  string
	// IPRateLimit limits conversation starts per client address;
	// ConversationRateLimit limits messages per conversation.
	IPRateLimit           web.RateLimit
	ConversationRateLimit web.RateLimit
	// TrustedProxies is a comma-separated list of addresses or CIDR
	// ranges of reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies string
}

func defaultConfig() Config {
	return Config{
		Addr:                  ":8080",
		DataDir:               "./data",
		ShutdownTimeout:       15 * time.Second,
		Retention:             30 * 24 * time.Hour,
		CommitDelay:           store.DefaultOptions().CommitDelay,
		LogLevel:              "info",
		LogBodies:             true,
		IPRateLimit:           web.RateLimit{PerSecond: 5, Burst: 20},
		ConversationRateLimit: web.RateLimit{PerSecond: 5, Burst: 10},
	}
}

// parseConfig applies, in order, the defaults, the environment and the
// flags (a flag wins over the environment).
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := defaultConfig()
	if v := getenv("FLOWBOT_ADDR"); v != "" {
		cfg.Addr = v
	}
	if v := getenv("FLOWBOT_DATA_DIR"); v != "" {
		cfg.DataDir = v
	}
	cfg.AdminToken = getenv("FLOWBOT_ADMIN_TOKEN")
	cfg.SecretKey = getenv("FLOWBOT_SECRET_KEY")
	cfg.UserTokenSecret = getenv("FLOWBOT_USER_TOKEN_SECRET")
	cfg.HandoffURL = getenv("FLOWBOT_HANDOFF_URL")
	cfg.HandoffSecret = getenv("FLOWBOT_HANDOFF_SECRET")
	if v := getenv("FLOWBOT_ALLOW_PRIVATE_NETWORKS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("FLOWBOT_ALLOW_PRIVATE_NETWORKS must be true or false, got %q", v)
		}
		cfg.AllowPrivateNetworks = b
	}
	if v := getenv("FLOWBOT_LOG_BODIES"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("FLOWBOT_LOG_BODIES must be true or false, got %q", v)
		}
		cfg.LogBodies = b
	}
	if v := getenv("FLOWBOT_RETENTION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("FLOWBOT_RETENTION must be a duration such as 720h, got %q", v)
		}
		cfg.Retention = d
	}
	if v := getenv("FLOWBOT_COMMIT_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("FLOWBOT_COMMIT_DELAY must be a duration such as 1ms, got %q", v)
		}
		cfg.CommitDelay = d
	}
	cfg.PprofAddr = getenv("FLOWBOT_PPROF_ADDR")
	if v := getenv("FLOWBOT_LOG_LEVEL"); v != "" {
		cfg.LogLevel = v
	}
	cfg.TrustedProxies = getenv("FLOWBOT_TRUSTED_PROXIES")

	fs := flag.NewFlagSet("flowbot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (FLOWBOT_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data folder for the database and key file (FLOWBOT_DATA_DIR)")
	fs.BoolVar(&cfg.AllowPrivateNetworks, "allow-private-networks", cfg.AllowPrivateNetworks,
		"let api_call reach private and loopback addresses: development and tests only (FLOWBOT_ALLOW_PRIVATE_NETWORKS)")
	fs.BoolVar(&cfg.LogBodies, "log-bodies", cfg.LogBodies,
		"keep the first 2 KiB of each api_call's request and response bodies in the execution log (FLOWBOT_LOG_BODIES)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long graceful shutdown may take")
	fs.DurationVar(&cfg.Retention, "retention", cfg.Retention, "how long conversations are kept (FLOWBOT_RETENTION)")
	fs.DurationVar(&cfg.CommitDelay, "commit-delay", cfg.CommitDelay,
		"while turns arrive concurrently, start journal writes at most this often so more turns share one fdatasync; 0: at once (FLOWBOT_COMMIT_DELAY)")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", cfg.PprofAddr,
		"serve Go profiles (net/http/pprof, with block and mutex profiling) on this loopback address; off when empty (FLOWBOT_PPROF_ADDR)")
	fs.Float64Var(&cfg.IPRateLimit.PerSecond, "rate-limit-ip", cfg.IPRateLimit.PerSecond, "conversation starts per second per client address (0: off)")
	fs.IntVar(&cfg.IPRateLimit.Burst, "rate-limit-ip-burst", cfg.IPRateLimit.Burst, "burst of conversation starts per client address")
	fs.Float64Var(&cfg.ConversationRateLimit.PerSecond, "rate-limit-conversation", cfg.ConversationRateLimit.PerSecond, "messages per second per conversation (0: off)")
	fs.IntVar(&cfg.ConversationRateLimit.Burst, "rate-limit-conversation-burst", cfg.ConversationRateLimit.Burst, "burst of messages per conversation")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (FLOWBOT_LOG_LEVEL)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", cfg.TrustedProxies,
		"comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For gives the client address; empty: the connection's peer is the client (FLOWBOT_TRUSTED_PROXIES)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errHelp
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// An error names the setting the way the user gave it: the flag, or
	// the environment variable when no flag overrode it.
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	return cfg, cfg.validate(func(flagName string) string {
		if env, ok := settingEnv[flagName]; ok && !onCommandLine[flagName] && getenv(env) != "" {
			return env
		}
		return "--" + flagName
	})
}

// settingEnv is the environment variable of each flag that has one.
var settingEnv = map[string]string{
	"addr": "FLOWBOT_ADDR", "data": "FLOWBOT_DATA_DIR", "retention": "FLOWBOT_RETENTION",
	"commit-delay": "FLOWBOT_COMMIT_DELAY", "pprof-addr": "FLOWBOT_PPROF_ADDR", "log-level": "FLOWBOT_LOG_LEVEL",
	"trusted-proxies": "FLOWBOT_TRUSTED_PROXIES",
}

// Validate checks combinations and values of settings; errors name the
// flags.
func (c Config) Validate() error {
	return c.validate(func(flagName string) string { return "--" + flagName })
}

// validate is Validate with name giving the name of a setting in errors.
func (c Config) validate(name func(flagName string) string) error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%s %q is not host:port (for example :8080 or 127.0.0.1:8080)", name("addr"), c.Addr)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%s must not be empty", name("data"))
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("%s must be positive", name("shutdown-timeout"))
	}
	if c.Retention < time.Hour {
		return fmt.Errorf("%s must be at least 1h, got %s", name("retention"), c.Retention)
	}
	if c.CommitDelay < 0 || c.CommitDelay > 50*time.Millisecond {
		return fmt.Errorf("%s must be between 0 and 50ms, got %s", name("commit-delay"), c.CommitDelay)
	}
	if c.PprofAddr != "" {
		if err := checkPprofAddr(name("pprof-addr"), c.PprofAddr); err != nil {
			return err
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		return errors.New("FLOWBOT_ADMIN_TOKEN must be at least 16 characters")
	}
	if c.UserTokenSecret != "" && len(c.UserTokenSecret) < web.MinUserTokenSecretLen {
		return fmt.Errorf("FLOWBOT_USER_TOKEN_SECRET must be at least %d characters (a random string, shared only with your website's server)", web.MinUserTokenSecretLen)
	}
	if c.HandoffURL != "" {
		u, err := url.Parse(c.HandoffURL)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || !validPort(u.Port()) {
			return errors.New("FLOWBOT_HANDOFF_URL must be an https URL with a host name (and a port of 1 to 65535 if any), and no user:password@ or #fragment")
		}
		if len(c.HandoffSecret) < web.MinHandoffSecretLen {
			return fmt.Errorf("FLOWBOT_HANDOFF_SECRET must be set, at least %d characters, when FLOWBOT_HANDOFF_URL is: the help desk checks each notice's signature with it", web.MinHandoffSecretLen)
		}
	} else if c.HandoffSecret != "" {
		return errors.New("FLOWBOT_HANDOFF_SECRET is set without FLOWBOT_HANDOFF_URL")
	}
	if c.IPRateLimit.PerSecond < 0 || c.ConversationRateLimit.PerSecond < 0 {
		return errors.New("rate limits must be ≥ 0 (0 turns a limit off)")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%s must be debug, info, warn or error, got %q", name("log-level"), c.LogLevel)
	}
	if _, err := parseProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("%s: %w", name("trusted-proxies"), err)
	}
	return nil
}

// parseProxies reads a comma-separated list of addresses (one host each)
// and CIDR ranges.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil || (p.Addr().Is4In6() && p.Bits() < 96) {
				return nil, fmt.Errorf("%q is not an address or a CIDR range such as 10.0.0.0/8", f)
			}
			if p.Addr().Is4In6() { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a CIDR range such as 10.0.0.0/8", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// validPort reports whether p, a URL's port, is empty or 1 to 65535.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
