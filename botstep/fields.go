package botstep

import (
	"github.com/flowbot/flowbot/flow"
)

// field is a bit for one type-specific field of flow.Step.
type field uint32

const (
	fText field = 1 << iota
	fNext
	fOptions
	fOptionsFrom
	fVariable
	fInput
	fInvalidText
	fConditions
	fElse
	fValue
	fReason
	fMethod
	fURL
	fHeaders
	fBody
	fBodyType
	fContentType
	fConnection
	fTimeout
	fVariables
	fOnSuccess
	fOnFailure
	fRetry
	fSuccessWhen
	fGroup
	fPriority
	fTags
	fieldCount = iota
)

// fieldNames are the JSON names of the fields, in bit order.
var fieldNames = [fieldCount]string{
	"text", "next", "options", "options_from", "variable", "input", "invalid_text",
	"conditions", "else", "value", "reason", "method", "url", "headers", "body",
	"body_type", "content_type", "connection", "timeout_ms", "variables",
	"on_success", "on_failure", "retry", "success_when", "group", "priority", "tags",
}

const apiCallFields = fMethod | fURL | fHeaders | fBody | fBodyType | fContentType |
	fConnection | fTimeout | fVariables | fOnSuccess | fOnFailure | fRetry | fSuccessWhen

// allowedFields lists each type's own fields; id, type, name and position
// belong to every step.
var allowedFields = map[string]field{
	flow.TypeMessage:     fText | fNext,
	flow.TypeOptions:     fText | fOptions | fOptionsFrom,
	flow.TypeAsk:         fText | fVariable | fInput | fInvalidText | fNext,
	flow.TypeAPICall:     apiCallFields,
	flow.TypeBranch:      fConditions | fElse,
	flow.TypeSetVariable: fVariable | fValue | fNext,
	flow.TypeTransfer:    fText | fReason | fGroup | fPriority | fTags,
	flow.TypeEnd:         fText,
}

// presentFields returns the fields of s that are set (not their zero value).
func presentFields(s *flow.Step) field {
	var f field
	set := func(b field, ok bool) {
		if ok {
			f |= b
		}
	}
	set(fText, s.Text != "")
	set(fNext, s.Next != "")
	set(fOptions, len(s.Options) > 0)
	set(fOptionsFrom, s.OptionsFrom != nil)
	set(fVariable, s.Variable != "")
	set(fInput, s.Input != "")
	set(fInvalidText, s.InvalidText != "")
	set(fConditions, len(s.Conditions) > 0)
	set(fElse, s.Else != "")
	set(fValue, s.Value != "")
	set(fReason, s.Reason != "")
	set(fMethod, s.Method != "")
	set(fURL, s.URL != "")
	set(fHeaders, len(s.Headers) > 0)
	set(fBody, s.Body != nil)
	set(fBodyType, s.BodyType != "")
	set(fContentType, s.ContentType != "")
	set(fConnection, s.Connection != "")
	set(fTimeout, s.TimeoutMS != 0)
	set(fVariables, len(s.Variables) > 0)
	set(fOnSuccess, s.OnSuccess != "")
	set(fOnFailure, s.OnFailure != "")
	set(fRetry, s.Retry != nil)
	set(fSuccessWhen, len(s.SuccessWhen) > 0)
	set(fGroup, s.Group != "")
	set(fPriority, s.Priority != "")
	set(fTags, len(s.Tags) > 0)
	return f
}

// checkFields reports every set field that does not belong to s.Type, so
// stray data (a url left on a step changed to message) never silently
// stays. Unknown types are left to flow.ValidateGraph.
func checkFields(p *flow.Problems, s *flow.Step, ptr string) {
	allowed, ok := allowedFields[s.Type]
	if !ok {
		return
	}
	extra := presentFields(s) &^ allowed
	for i := 0; extra != 0; i++ {
		if extra&(1<<i) != 0 {
			extra &^= 1 << i
			p.Add(ptr+"/"+fieldNames[i], CodeFieldNotAllowed,
				fieldNames[i]+" is not a field of a "+s.Type+" step; remove it")
		}
	}
}
