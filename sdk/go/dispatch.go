package inlet

import (
	"fmt"
	"runtime/debug"
)

// This file is the platform-neutral half of the export glue: the ABI layer (abi_wasip1.go)
// lifts the canonical-ABI arguments into Go values, calls these, and lowers what they return.

type syncKind int

const (
	kindFull syncKind = iota
	kindIncremental
	kindAccessControl
)

func (k syncKind) String() string {
	return [...]string{"full", "incremental", "access-control"}[k]
}

func mustConnector() Connector {
	if registered == nil {
		panic("inlet: no connector registered: call inlet.Register from an init function")
	}
	return registered
}

// guard turns a panic into an internal error, so a bug fails the call instead of the instance.
func guard(err **Error) {
	if r := recover(); r != nil {
		hostLog(LevelError, fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
		*err = &Error{Kind: KindInternal, Message: fmt.Sprintf("panic: %v", r)}
	}
}

func doMetadata() Metadata {
	c := mustConnector()
	m := c.Metadata()
	if _, ok := c.(IncrementalSyncer); ok {
		m.Features.IncrementalSync = true
	}
	if _, ok := c.(AccessControlSyncer); ok {
		m.Features.DocumentLevelSecurity = true
	}
	if _, ok := c.(AdvancedRulesValidator); ok {
		m.Features.AdvancedRules = true
	}
	return m
}

func doSchema() []ConfigField { return numbered(mustConnector().Configuration()) }

func config(pairs [][2]string) Config { return configFromFor(mustConnector(), pairs) }

func configFromFor(c Connector, pairs [][2]string) Config {
	return configFrom(pairs, c.Configuration())
}

func doValidateConfig(pairs [][2]string) (err *Error) {
	defer guard(&err)
	return AsError(mustConnector().ValidateConfig(config(pairs)))
}

func doPing(pairs [][2]string) (err *Error) {
	defer guard(&err)
	return AsError(mustConnector().Ping(config(pairs)))
}

func doValidateRules(pairs [][2]string, rules string) (v RulesValidation, err *Error) {
	defer guard(&err)
	r, ok := mustConnector().(AdvancedRulesValidator)
	if !ok {
		return RulesValidation{Messages: []string{"this connector does not support advanced sync rules"}}, nil
	}
	v, e := r.ValidateAdvancedRules(config(pairs), rules)
	return v, AsError(e)
}

// Open syncs, by the rep (a small non-zero integer) the component model knows them by.
var (
	streams = map[uint32]DocStream{}
	nextRep uint32
)

func startSync(c Connector, kind syncKind, pairs [][2]string, rules *string, cursor *string) (s DocStream, err *Error) {
	defer guard(&err)
	req := SyncRequest{Config: configFromFor(c, pairs)}
	if rules != nil {
		req.AdvancedRules = *rules
	}
	if cursor != nil {
		req.Cursor, req.HasCursor = *cursor, true
	}
	var e error
	switch kind {
	case kindFull:
		s, e = c.FullSync(req)
	case kindIncremental:
		if inc, ok := c.(IncrementalSyncer); ok {
			s, e = inc.IncrementalSync(req)
		} else {
			e = ConfigError("this connector does not support incremental syncs")
		}
	case kindAccessControl:
		if ac, ok := c.(AccessControlSyncer); ok {
			s, e = ac.AccessControlSync(req)
		} else {
			e = ConfigError("this connector does not support document-level security")
		}
	}
	if e != nil {
		return nil, AsError(e)
	}
	if s == nil {
		return nil, InternalError(kind.String() + " sync returned no stream")
	}
	return s, nil
}

func doSync(kind syncKind, pairs [][2]string, rules *string, cursor *string) (uint32, *Error) {
	s, err := startSync(mustConnector(), kind, pairs, rules, cursor)
	if err != nil {
		return 0, err
	}
	nextRep++
	if nextRep == 0 {
		nextRep = 1
	}
	streams[nextRep] = s
	return nextRep, nil
}

func doNextBatch(rep uint32) (batch []Document, err *Error) {
	defer guard(&err)
	s, ok := streams[rep]
	if !ok {
		return nil, InternalError("unknown sync")
	}
	return nextBatch(s)
}

func doCursor(rep uint32) (c string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			Log(LevelError, fmt.Sprintf("cursor: panic: %v", r))
			c, ok = "", false
		}
	}()
	if s, found := streams[rep]; found {
		return s.Cursor()
	}
	return "", false
}

func doDrop(rep uint32) {
	s, ok := streams[rep]
	delete(streams, rep)
	if ok {
		closeStream(s)
	}
}

func closeStream(s DocStream) {
	if cl, isCloser := s.(interface{ Close() error }); isCloser {
		defer func() { recover() }()
		cl.Close()
	}
}
