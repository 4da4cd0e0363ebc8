package botstep

// Problem codes reported by the per-step checks. They are stable: clients
// switch on them. Graph-level codes live in package flow.
const (
	CodeFieldNotAllowed       = "field_not_allowed"            // a field that does not belong to the step's type is set
	CodeMissingField          = "missing_field"                // a required field is empty
	CodeTextTooLong           = "text_too_long"                // a text field is over flow.MaxTextLen characters
	CodeUnclosedTemplate      = "unclosed_template"            // "{{" with no "}}" after it
	CodeInvalidTemplateVar    = "invalid_template_variable"    // {{x}} where x is neither a variable name nor a system variable
	CodeInvalidVariableName   = "invalid_variable_name"        // not ^[a-z0-9_]{1,64}$ (nor a system variable where one may be read)
	CodeSystemVariableWrite   = "system_variable_readonly"     // a step would write a system variable
	CodeTooFewOptions         = "too_few_options"              // options step with no options and no options_from
	CodeTooManyOptions        = "too_many_options"             // more than flow.MaxOptions options
	CodeOptionsConflict       = "options_conflict"             // both options and options_from are set
	CodeInvalidOptionID       = "invalid_option_id"            // option id not ^[a-z0-9_-]{1,64}$
	CodeDuplicateOptionID     = "duplicate_option_id"          // two options of a step share an id
	CodeInvalidJSONPath       = "invalid_json_path"            // not a JSONPath starting with "$"
	CodeInvalidInput          = "invalid_input"                // ask input not text, email, number or phone
	CodeTooManyConditions     = "too_many_conditions"          // more than flow.MaxConditionsPerStep conditions
	CodeInvalidOperator       = "invalid_operator"             // branch op not one of flow.BranchOps
	CodeValueNotNumber        = "value_not_number"             // warning: greater_than/less_than against a literal that is not a number
	CodeNotAPICall            = "not_api_call"                 // ValidateAPICall given a step of another type
	CodeInvalidMethod         = "invalid_method"               // method not GET, POST, PUT, PATCH or DELETE
	CodeTooManyHeaders        = "too_many_headers"             // more than flow.MaxHeaders headers
	CodeInvalidHeaderKey      = "invalid_header_key"           // header key is not an RFC 7230 token
	CodeInvalidHeaderValue    = "invalid_header_value"         // header value holds CR, LF, NUL or another control character
	CodeHeaderValueTooLong    = "header_value_too_long"        // header value over flow.MaxHeaderValueLen characters
	CodeCredentialHeader      = "credential_header"            // Authorization, Proxy-Authorization, Cookie, X-API-Key: use a connection
	CodeFramingHeader         = "framing_header"               // Host, Content-Length, Transfer-Encoding, Connection and other hop-by-hop headers
	CodeBodyNotAllowed        = "body_not_allowed"             // a body on GET or DELETE
	CodeInvalidBodyType       = "invalid_body_type"            // body_type not json or text
	CodeBodyTooLarge          = "body_too_large"               // body over flow.MaxBodyBytes bytes
	CodeInvalidJSONBody       = "invalid_json_body"            // json body is not valid JSON with its variables filled in
	CodeVariableOutsideString = "variable_outside_json_string" // {{x}} in a json body outside a string literal
	CodeInvalidContentType    = "invalid_content_type"         // content_type is not a media type
	CodeUnknownConnection     = "unknown_connection"           // connection names no existing connection
	CodeConnectionExpired     = "connection_expired"           // warning: the connection's expiry date has passed
	CodeConnectionRefused     = "connection_refused"           // warning: an API last refused the connection's credentials
	CodeConnectionExpiring    = "connection_expiring"          // warning: the connection expires within 7 days
	CodeHostNotAllowed        = "connection_host_not_allowed"  // the url host is outside the connection's allowed domain
	CodeTooManyVariables      = "too_many_variables"           // more than flow.MaxResponseVars response variables
	CodeDuplicateVariable     = "duplicate_variable"           // two response variables share a name
	CodeInvalidTimeout        = "invalid_timeout"              // timeout_ms neither 0 nor 1000–30000
	CodeRetryNotAllowed       = "retry_not_allowed"            // retry on POST or PATCH
	CodeInvalidRetryAttempts  = "invalid_retry_attempts"       // retry.max_attempts not 1–5
	CodeInvalidRetryBackoff   = "invalid_retry_backoff"        // retry.backoff_ms not 0–10000
	CodeInvalidAttemptTimeout = "invalid_attempt_timeout"      // retry.attempt_timeout_ms neither 0 nor 1000–timeout_ms
	CodeInvalidPriority       = "invalid_priority"             // transfer priority, written without variables, not one of flow.TransferPriorities
	CodeTooManyTags           = "too_many_tags"                // more than flow.MaxTransferTags transfer tags
	CodeInvalidTag            = "invalid_tag"                  // transfer tag, written without variables, not as it is sent (see flow.NormalizeTags)
)

// URL problem codes, carried by *URLError (SPEC §3 rules 2 and 3).
const (
	CodeInvalidURL           = "invalid_url"              // not an absolute URL with a host
	CodeURLNotHTTPS          = "url_not_https"            // scheme other than https
	CodeURLUserInfo          = "url_user_info"            // user:password@ in the URL
	CodeURLFragment          = "url_fragment"             // #fragment in the URL
	CodeVariableInScheme     = "variable_in_scheme"       // {{x}} before "://"
	CodeVariableInUserInfo   = "variable_in_user_info"    // {{x}} before "@"
	CodeVariableInHost       = "variable_in_host"         // {{x}} in the domain or a subdomain
	CodeVariableInPort       = "variable_in_port"         // {{x}} after the host's ":"
	CodeVariableInQueryKey   = "variable_in_query_key"    // {{x}} before a query pair's "="
	CodeVariableInFragment   = "variable_in_fragment"     // {{x}} after "#"
	CodePeriodInPathVariable = "period_in_path_variable"  // run time: a path variable's value has a "."
	CodeEmailInPath          = "email_in_path"            // warning: a path segment holds a variable that is always an email address (it has a ".")
	CodeVariableNeverSet     = "variable_never_set"       // warning: a step reads a variable no step of the flow sets
	CodeTypedNotAlone        = "typed_variable_not_alone" // a JSON body's "{{x:number}}" shares its string with other text
	CodeJSONFromUser         = "json_from_user"           // warning: a JSON body sends an ask step's answer as raw JSON ("{{x:json}}")
)
