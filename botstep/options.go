package botstep

import (
	"fmt"
	"strconv"

	"github.com/flowbot/flowbot/flow"
)

// checkOptions: text is an optional template. Either options lists 1 to
// flow.MaxOptions replies with unique valid ids and non-empty labels
// (templates, as the runtime interpolates them), or
// options_from builds them at run time and options is empty.
func checkOptions(p *flow.Problems, s *flow.Step, ptr string) {
	checkText(p, ptr+"/text", "text", s.Text, false)
	if s.OptionsFrom != nil {
		if len(s.Options) > 0 {
			p.Add(ptr+"/options", CodeOptionsConflict,
				"options must be empty when options_from is set; keep one of the two")
		}
		checkOptionsFrom(p, s.OptionsFrom, ptr+"/options_from")
		return
	}
	switch n := len(s.Options); {
	case n == 0:
		p.Add(ptr+"/options", CodeTooFewOptions,
			fmt.Sprintf("options is empty; add 1 to %d options or set options_from", flow.MaxOptions))
	case n > flow.MaxOptions:
		p.Add(ptr+"/options", CodeTooManyOptions,
			fmt.Sprintf("options has %d options; the limit is %d", n, flow.MaxOptions))
	}
	firstUse := make(map[string]int, len(s.Options))
	for i := range s.Options {
		o := &s.Options[i]
		op := ptr + "/options/" + strconv.Itoa(i)
		if msg := flow.IDProblem("option id", o.ID); msg != "" {
			p.Add(op+"/id", CodeInvalidOptionID, msg)
		} else if j, dup := firstUse[o.ID]; dup {
			p.Add(op+"/id", CodeDuplicateOptionID,
				fmt.Sprintf("option id %s is already used by option %d; option ids must be unique in the step", flow.Quote(o.ID), j))
		} else {
			firstUse[o.ID] = i
		}
		checkText(p, op+"/label", "label", o.Label, true)
	}
}

// checkOptionsFrom: variable holds the JSON array (a designer or system
// variable), label_path picks each element's label, value_variable
// receives the chosen element.
func checkOptionsFrom(p *flow.Problems, o *flow.OptionsFrom, ptr string) {
	checkReadVariable(p, ptr+"/variable", "variable", o.Variable)
	checkWriteVariable(p, ptr+"/value_variable", "value_variable", o.ValueVariable)
	switch {
	case o.LabelPath == "":
		p.Add(ptr+"/label_path", CodeMissingField, "label_path is required; use \"$\" for the element itself")
	default:
		if err := checkJSONPath(o.LabelPath); err != nil {
			p.Add(ptr+"/label_path", CodeInvalidJSONPath, "label_path "+err.Error())
		}
	}
}
