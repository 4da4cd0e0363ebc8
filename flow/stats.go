package flow

import (
	"sort"
	"strconv"
	"time"
)

// Log outcomes of waiting steps and of turns that stop, which the stats
// tell apart from the rest (other outcomes are counted as they come).
const (
	OutcomeWaiting       = "waiting"        // an ask or options step asked
	OutcomeAnswered      = "answered"       // an ask step took the reply
	OutcomeChosen        = "chosen"         // an options step took the choice
	OutcomeInvalidInput  = "invalid_input"  // an ask step refused the reply and asks again
	OutcomeInvalidChoice = "invalid_choice" // an options step refused the reply and asks again
	OutcomeStepLimit     = "step_limit"     // the turn stopped at the step cap before this step
	OutcomeTimeLimit     = "time_limit"     // the turn ran out of time before this step
	OutcomeTurnLimit     = "turn_limit"     // the conversation had its most turns; this step's reply was not taken
	OutcomeUnknownStep   = "unknown_step"   // the flow pointed at a step that does not exist
)

// BotStats sums up how a bot's recent conversations went, step by step:
// how they ended, how often each step ran and with what outcome, why API
// calls failed, and where active conversations wait for the user (where
// users drop off). Add conversations to it, then call Steps.
type BotStats struct {
	// Conversations is how many conversations were added.
	Conversations int
	// Oldest is the oldest update time among them: the stats cover the
	// conversations updated since.
	Oldest time.Time
	// ByStatus counts them by status.
	ByStatus map[string]int
	steps    map[string]*StepStats
}

// StepStats is one step's share of BotStats.
type StepStats struct {
	StepID   string `json:"step_id"`
	StepType string `json:"step_type"`
	// Runs counts the step's runs; Conversations, the conversations that
	// ran it at least once.
	Runs          int `json:"runs"`
	Conversations int `json:"conversations"`
	// Outcomes counts runs by log outcome (ok, success, failure, waiting,
	// answered, chosen, invalid_input, invalid_choice, ...). A question
	// asked and answered is one run, counted by its answer; each reply it
	// refused is a run of its own.
	Outcomes map[string]int `json:"outcomes"`
	// Errors counts an api_call's failed runs by cause: http_<status> for
	// an answer outside 2xx, else the error code (timeout, ...).
	Errors map[string]int `json:"errors,omitempty"`
	// Waiting counts the active conversations waiting at this step now.
	Waiting int `json:"waiting"`
	// Stopped counts the turns that stopped before running this step, by
	// reason (step_limit, time_limit, unknown_step): the conversation
	// ended with status error there. Not runs.
	Stopped map[string]int `json:"stopped,omitempty"`
}

// NewBotStats returns empty stats.
func NewBotStats() *BotStats {
	return &BotStats{ByStatus: map[string]int{}, steps: map[string]*StepStats{}}
}

// Add counts one conversation and its execution log.
func (b *BotStats) Add(c *Conversation, log []LogEntry) {
	b.Conversations++
	b.ByStatus[c.Status]++
	if b.Oldest.IsZero() || c.UpdatedAt.Before(b.Oldest) {
		b.Oldest = c.UpdatedAt
	}
	seen := map[string]bool{}
	for i := range log {
		e := &log[i]
		// A waiting step logs "waiting" when it asks and its answer when
		// the user replies: one run, counted once, by its answer.
		if e.Outcome == OutcomeWaiting && i+1 < len(log) && log[i+1].StepID == e.StepID && isAnswer(log[i+1].Outcome) {
			continue
		}
		s := b.step(e.StepID, e.StepType)
		if stoppedBefore(e.Outcome) {
			if s.Stopped == nil {
				s.Stopped = map[string]int{}
			}
			s.Stopped[e.Outcome]++
			continue
		}
		s.Runs++
		s.Outcomes[e.Outcome]++
		if !seen[e.StepID] {
			seen[e.StepID] = true
			s.Conversations++
		}
		if a := e.APICall; a != nil && a.Branch == "failure" {
			if s.Errors == nil {
				s.Errors = map[string]int{}
			}
			switch {
			case a.Status >= 300:
				s.Errors["http_"+strconv.Itoa(a.Status)]++
			case a.Error != "":
				s.Errors[a.Error]++
			default:
				s.Errors["unknown"]++
			}
		}
	}
	if c.Status == StatusActive && c.Waiting != "" {
		b.step(c.Waiting, "").Waiting++
	}
}

// stoppedBefore tells whether a log outcome says the turn stopped before
// the step (which the entry names) ran.
func stoppedBefore(outcome string) bool {
	switch outcome {
	case OutcomeStepLimit, OutcomeTimeLimit, OutcomeUnknownStep, OutcomeTurnLimit:
		return true
	}
	return false
}

// isAnswer tells whether a log outcome is the reply to a waiting step.
func isAnswer(outcome string) bool {
	switch outcome {
	case OutcomeAnswered, OutcomeChosen, OutcomeInvalidInput, OutcomeInvalidChoice:
		return true
	}
	return false
}

func (b *BotStats) step(id, typ string) *StepStats {
	s := b.steps[id]
	if s == nil {
		s = &StepStats{StepID: id, Outcomes: map[string]int{}}
		b.steps[id] = s
	}
	if s.StepType == "" {
		s.StepType = typ
	}
	return s
}

// Steps returns the per-step stats, the most run first (then by id).
func (b *BotStats) Steps() []StepStats {
	out := make([]StepStats, 0, len(b.steps))
	for _, s := range b.steps {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Runs != out[j].Runs {
			return out[i].Runs > out[j].Runs
		}
		return out[i].StepID < out[j].StepID
	})
	return out
}
