package flow

// Compiled is a published flow prepared once for the runtime: the step
// index is built when the version is loaded, not on every turn.
type Compiled struct {
	Flow  *Flow
	index map[string]int
	// otherWriters holds the variables that a step other than an
	// api_call writes (ask, set_variable, an options step's
	// value_variable): an api_call that runs again keeps them.
	otherWriters map[string]bool
}

// Compile prepares f for running.
func Compile(f *Flow) *Compiled {
	c := &Compiled{Flow: f, index: f.StepIndex(), otherWriters: map[string]bool{}}
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.Type != TypeAPICall && s.Variable != "" {
			c.otherWriters[s.Variable] = true
		}
		if s.OptionsFrom != nil && s.OptionsFrom.ValueVariable != "" {
			c.otherWriters[s.OptionsFrom.ValueVariable] = true
		}
	}
	return c
}

// Step returns the step with id, or nil.
func (c *Compiled) Step(id string) *Step {
	i, ok := c.index[id]
	if !ok {
		return nil
	}
	return &c.Flow.Steps[i]
}
