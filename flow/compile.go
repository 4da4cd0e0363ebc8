package flow

// Compiled is a published flow prepared once for the runtime: the step
// index is built when the version is loaded, not on every turn.
type Compiled struct {
	Flow  *Flow
	index map[string]int
}

// Compile prepares f for running.
func Compile(f *Flow) *Compiled {
	return &Compiled{Flow: f, index: f.StepIndex()}
}

// Step returns the step with id, or nil.
func (c *Compiled) Step(id string) *Step {
	i, ok := c.index[id]
	if !ok {
		return nil
	}
	return &c.Flow.Steps[i]
}
