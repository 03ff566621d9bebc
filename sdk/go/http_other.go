//go:build !wasip1

package inlet

import "time"

// Outside a component there is no host broker: HTTPDo works only with SetTransport (tests).
func hostHTTPAll(reqs []outgoing) ([]*Response, []error) {
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		errs[i] = Errorf(KindNetwork, "%s %s: HTTP goes through the host's broker, which exists only inside a component (use inlet.SetTransport in tests)", r.method, r.u)
	}
	return make([]*Response, len(reqs)), errs
}

func hostSleep(d time.Duration) { time.Sleep(d) }
