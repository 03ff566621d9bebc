package inlet

// RunOptions describes a sync for [RunSync].
type RunOptions struct {
	// Kind is "full" (default), "incremental" or "access-control".
	Kind string
	// Config holds configuration values as Go values (JSON-encoded as the host would send them);
	// the schema's defaults fill in what is missing.
	Config map[string]any
	// Cursor is the previous cursor, for incremental syncs.
	Cursor    string
	HasCursor bool
	// AdvancedRules is the advanced rules' JSON text, if any.
	AdvancedRules string
}

// RunResult is what a sync produced.
type RunResult struct {
	Documents []Document
	Batches   int
	Cursor    string
	HasCursor bool
}

// RunSync runs a sync of c the way the host does (config validated, batches pulled one by one
// until the end, then the cursor read, then the stream dropped), natively, for unit tests:
//
//	res, err := inlet.RunSync(myConnector{}, inlet.RunOptions{Config: map[string]any{"count": 5}})
func RunSync(c Connector, opts RunOptions) (RunResult, error) {
	var res RunResult
	pairs := make([][2]string, 0, len(opts.Config))
	for k, v := range opts.Config {
		pairs = append(pairs, [2]string{k, jsonText(v)})
	}
	if err := func() (err *Error) {
		defer guard(&err)
		return AsError(c.ValidateConfig(configFromFor(c, pairs)))
	}(); err != nil {
		return res, err
	}
	kind := kindFull
	switch opts.Kind {
	case "", "full":
	case "incremental":
		kind = kindIncremental
	case "access-control", "access_control":
		kind = kindAccessControl
	default:
		return res, InternalError("unknown sync kind " + opts.Kind)
	}
	var rules, cursor *string
	if opts.AdvancedRules != "" {
		rules = &opts.AdvancedRules
	}
	if opts.HasCursor {
		cursor = &opts.Cursor
	}
	s, err := startSync(c, kind, pairs, rules, cursor)
	if err != nil {
		return res, err
	}
	defer closeStream(s)
	for {
		batch, err := func() (b []Document, err *Error) {
			defer guard(&err)
			return nextBatch(s)
		}()
		if err != nil {
			return res, err
		}
		if batch == nil {
			break
		}
		res.Batches++
		res.Documents = append(res.Documents, batch...)
	}
	res.Cursor, res.HasCursor = s.Cursor()
	return res, nil
}
