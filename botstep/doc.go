// Package botstep holds what each step type knows about itself: the static
// rules of SPEC §2 and §3 as pure functions returning flow.Problems, one
// file per step type, and for the Make an API call step the URL template
// that the request builder renders. Validate checks a whole flow;
// ValidateAPICall checks one unsaved api_call step for a test call.
package botstep
