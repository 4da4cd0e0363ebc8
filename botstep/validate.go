package botstep

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// Validate runs every static rule against f: the graph checks of
// flow.ValidateGraph, then each step's own fields, and for api_call steps
// that both branches are set. conns holds the existing connections by
// name (nil: none exist). Problems come graph first, then step by step.
func Validate(f *flow.Flow, conns map[string]ConnectionInfo) flow.Problems {
	p := flow.ValidateGraph(f)
	for i := range f.Steps {
		s := &f.Steps[i]
		ptr := flow.StepPointer(i, "")
		checkStep(&p, s, ptr, conns)
		if s.Type == flow.TypeAPICall {
			checkAPICallBranches(&p, s, ptr)
		}
	}
	checkEmailsInPaths(&p, f)
	checkNeverSet(&p, f)
	checkJSONFromUser(&p, f)
	return p
}

// checkJSONFromUser warns about a JSON body that sends what a user typed
// (an ask step's variable) as raw JSON ("{{answer:json}}"): the user
// could then add fields or change the body's shape.
func checkJSONFromUser(p *flow.Problems, f *flow.Flow) {
	asked := map[string]string{}
	for i := range f.Steps {
		if s := &f.Steps[i]; s.Type == flow.TypeAsk && s.Variable != "" {
			asked[s.Variable] = s.ID
		}
	}
	if len(asked) == 0 {
		return
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.Type != flow.TypeAPICall || s.Body == nil || s.BodyType == flow.BodyText {
			continue
		}
		refs, _ := flow.ScanTemplate(*s.Body)
		for _, r := range refs {
			name, typ := splitTyped(r.Name)
			if id, ok := asked[name]; ok && typ == TypeJSON {
				p.Warn(flow.StepPointer(i, "/body"), CodeJSONFromUser, fmt.Sprintf(
					"body sends {{%s}}, which ask step %s saves from what the user types, as raw JSON: the user could add fields or change the body's shape; send it as text (\"{{%s}}\") or as :number or :boolean",
					name, flow.Quote(id), name))
			}
		}
	}
}

// checkNeverSet warns about each variable a step reads that no step of
// the flow writes (ask, set_variable, an api_call's variables, an options
// step's value_variable): it is empty at run time unless the
// conversation's start request passes it, which for a misspelt name
// ({{order_numbr}}) it never does. A close name that is written is
// suggested. One warning per field and name.
func checkNeverSet(p *flow.Problems, f *flow.Flow) {
	written := map[string]bool{}
	for i := range f.Steps {
		s := &f.Steps[i]
		written[s.Variable] = true
		for _, v := range s.Variables {
			written[v.Name] = true
		}
		if s.OptionsFrom != nil {
			written[s.OptionsFrom.ValueVariable] = true
		}
	}
	// Suggestions are looked for once per name, among the set names of
	// about its length; at most maxNeverSetWarnings are given, so a huge
	// flow full of them validates as fast as any other.
	byLen := map[int][]string{}
	for n := range written {
		if n != "" {
			byLen[len(n)] = append(byLen[len(n)], n)
		}
	}
	suggested := map[string]string{}
	warnings := 0
	warn := func(ptr, name string) {
		if written[name] || !flow.IsVariableName(name) || warnings >= maxNeverSetWarnings {
			return // set somewhere, a system variable, a bad name reported as an error, or enough said
		}
		warnings++
		near, ok := suggested[name]
		if !ok {
			near = nearest(name, byLen)
			suggested[name] = near
		}
		msg := fmt.Sprintf("no step of this flow sets {{%s}}, so it is empty unless the conversation's start request passes it in variables", name)
		if near != "" {
			msg += fmt.Sprintf("; did you mean {{%s}}?", near)
		}
		p.Warn(ptr, CodeVariableNeverSet, msg)
	}
	read := func(ptr, tmpl string) {
		refs, _ := flow.ScanTemplate(tmpl)
		seen := map[string]bool{}
		for _, r := range refs {
			name, _ := splitTyped(r.Name) // a JSON body's {{qty:number}}
			if !seen[name] {
				seen[name] = true
				warn(ptr, name)
			}
		}
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		at := func(field string) string { return flow.StepPointer(i, field) }
		read(at("/text"), s.Text)
		for j, o := range s.Options {
			read(at("/options/"+strconv.Itoa(j)+"/label"), o.Label)
		}
		read(at("/invalid_text"), s.InvalidText)
		read(at("/value"), s.Value)
		read(at("/reason"), s.Reason)
		read(at("/group"), s.Group)
		read(at("/priority"), s.Priority)
		for j, t := range s.Tags {
			read(at("/tags/"+strconv.Itoa(j)), t)
		}
		read(at("/url"), s.URL)
		for j, h := range s.Headers {
			read(at("/headers/"+strconv.Itoa(j)+"/value"), h.Value)
		}
		if s.Body != nil {
			read(at("/body"), *s.Body)
		}
		for j, c := range s.Conditions {
			warn(at("/conditions/"+strconv.Itoa(j)+"/variable"), c.Variable)
			read(at("/conditions/"+strconv.Itoa(j)+"/value"), c.Value)
		}
		for j, c := range s.SuccessWhen {
			read(at("/success_when/"+strconv.Itoa(j)+"/path"), c.Path) // a filter's {{variables}}
			read(at("/success_when/"+strconv.Itoa(j)+"/value"), c.Value)
		}
		for j, v := range s.Variables {
			read(at("/variables/"+strconv.Itoa(j)+"/path"), v.Path)
		}
		if s.OptionsFrom != nil {
			warn(at("/options_from/variable"), s.OptionsFrom.Variable)
		}
	}
}

// maxNeverSetWarnings bounds the variable_never_set warnings of a flow.
const maxNeverSetWarnings = 50

// nearest returns the set name closest to name by edit distance, if it is
// near enough to be a typo (two edits, one for a name of up to four
// characters), else ""; ties go to the first in alphabetical order, so
// the suggestion is the same on every run. byLen holds the set names by
// length: only those of a length within reach are compared.
func nearest(name string, byLen map[int][]string) string {
	limit := 3
	if len(name) <= 4 {
		limit = 2
	}
	best, bestD := "", limit
	for l := len(name) - limit + 1; l < len(name)+limit; l++ {
		for _, n := range byLen[l] {
			if d := editDistance(name, n, bestD+1); d < bestD || (d == bestD && n < best) {
				best, bestD = n, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes: names are
// ASCII), or limit when it is at least limit. Only the band of cells
// within limit of the diagonal is computed, and it stops as soon as a
// whole row is at the limit: O(len × limit).
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = min(j, limit)
	}
	for i := 1; i <= len(a); i++ {
		lo, hi := max(1, i-limit+1), min(len(b), i+limit-1)
		cur[0] = min(i, limit)
		rowMin := limit
		if lo == 1 {
			rowMin = cur[0]
		} else {
			cur[lo-1] = limit
		}
		for j := lo; j <= hi; j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1, limit)
			cur[j] = c
			rowMin = min(rowMin, c)
		}
		if hi < len(b) {
			cur[hi+1] = limit
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

// checkEmailsInPaths warns about an api_call whose URL path holds a
// variable that is always an email address: {{user.email}}, or the
// variable of an ask step whose input is email. An email address always
// has a period, which a path value may not hold (SPEC §3 rule 4), so the
// call would always take the failure branch. A query value may hold it.
func checkEmailsInPaths(p *flow.Problems, f *flow.Flow) {
	emails := map[string]string{"user.email": "is the user's email address"}
	for i := range f.Steps {
		if s := &f.Steps[i]; s.Type == flow.TypeAsk && s.Input == flow.InputEmail && s.Variable != "" {
			emails[s.Variable] = "holds an email address (ask step " + flow.Quote(s.ID) + ")"
		}
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.Type != flow.TypeAPICall || !holdsAny(s.URL, emails) {
			continue // no email variable in it: no need to parse it again
		}
		t, err := ParseURLTemplate(s.URL)
		if err != nil {
			continue // reported by the step's own checks
		}
		for _, seg := range t.Path {
			for _, part := range seg.Parts {
				if what, ok := emails[part.Var]; ok {
					p.Warn(flow.StepPointer(i, "/url"), CodeEmailInPath, fmt.Sprintf(
						"{{%s}} %s, which always contains a period, and a URL path value may not: the call would always take the failure branch. Put it in a query value instead (?email={{%s}}) or in the body of a POST or PUT",
						part.Var, what, part.Var))
				}
			}
		}
	}
}

// ValidateStep checks one step's own fields, with ptr ("/steps/3", or ""
// for a bare step) prefixing every pointer. It does not check where the
// step's targets lead, nor that an api_call's branches are set: those are
// properties of the flow (Validate). An unknown type gives no problems
// here; flow.ValidateGraph reports it.
func ValidateStep(s *flow.Step, ptr string, conns map[string]ConnectionInfo) flow.Problems {
	var p flow.Problems
	checkStep(&p, s, ptr, conns)
	return p
}

func checkStep(p *flow.Problems, s *flow.Step, ptr string, conns map[string]ConnectionInfo) {
	checkFields(p, s, ptr)
	if len(s.Description) > flow.MaxDescriptionLen { // bytes ≥ characters
		if n := utf8.RuneCountInString(s.Description); n > flow.MaxDescriptionLen {
			p.Add(ptr+"/description", CodeTextTooLong, fmt.Sprintf("description is %d characters; the limit is %d", n, flow.MaxDescriptionLen))
		}
	}
	switch s.Type {
	case flow.TypeMessage:
		checkMessage(p, s, ptr)
	case flow.TypeOptions:
		checkOptions(p, s, ptr)
	case flow.TypeAsk:
		checkAsk(p, s, ptr)
	case flow.TypeAPICall:
		checkAPICall(p, s, ptr, conns)
	case flow.TypeBranch:
		checkBranch(p, s, ptr)
	case flow.TypeSetVariable:
		checkSetVariable(p, s, ptr)
	case flow.TypeTransfer:
		checkTransfer(p, s, ptr)
	case flow.TypeEnd:
		checkEnd(p, s, ptr)
	}
}

// holdsAny reports whether url names one of the variables in vars, with
// the scanner that validation and the runtime share.
func holdsAny(url string, vars map[string]string) bool {
	refs, _ := flow.ScanTemplate(url)
	for _, r := range refs {
		if _, ok := vars[r.Name]; ok {
			return true
		}
	}
	return false
}
