package main

import (
	"errors"
	"strconv"
	"time"

	inlet "inlet.dev/sdk"
)

// groupBytes bounds the contents downloaded together (HTTPDoAll keeps every body in memory
// until the group is emitted): concurrent_downloads blobs, or fewer when they are large.
const groupBytes = 32 << 20

// syncRun walks the containers and their blobs, one listing page at a time, only while the host
// asks for more documents.
type syncRun struct {
	s      *settings
	c      *client
	since  time.Time // incremental: blobs modified at or after this instant; zero: all
	start  time.Time // the service's clock at the first answer (the next cursor)
	emit   *inlet.Emitter
	counts struct{ blobs, contents, skipped int }
}

func newSync(s *settings, c *client, since time.Time) *syncRun {
	return &syncRun{s: s, c: c, since: since}
}

func (y *syncRun) stream() inlet.DocStream {
	return inlet.Generate(0, func(e *inlet.Emitter) error {
		y.emit = e
		err := y.run()
		if errors.Is(err, errStopped) {
			return nil
		}
		if err != nil {
			return err
		}
		e.SetCursor(formatCursor(y.start))
		inlet.Infof("%d blobs, %d contents downloaded, %d without content", y.counts.blobs, y.counts.contents, y.counts.skipped)
		return nil
	})
}

var errStopped = inlet.CancelledError("the host stopped the sync")

// noteClock keeps the service's `Date` of the sync's first answer: the next incremental sync
// starts there, on the service's clock rather than this machine's.
func (y *syncRun) noteClock(resp *inlet.Response) {
	if !y.start.IsZero() {
		return
	}
	if t, ok := serviceTime(resp.Header.Get("date")); ok {
		y.start = t
		return
	}
	// No Date header (a proxy dropped it): this machine's clock, minus the skew Azure allows.
	y.start = time.Now().Add(-15 * time.Minute)
}

type container struct {
	name string
	meta *metadata
}

func (y *syncRun) run() error {
	containers, err := y.containers()
	if err != nil {
		return err
	}
	for _, c := range containers {
		if err := y.blobs(c); err != nil {
			return err
		}
	}
	return nil
}

// containers lists the account's containers (with their metadata, which every blob document
// carries) and keeps the configured ones, in the service's order, as Elastic does; configured
// names the account does not have are logged.
func (y *syncRun) containers() ([]container, error) {
	wanted := map[string]bool{}
	for _, n := range y.s.containers {
		wanted[n] = true
	}
	var out []container
	marker := ""
	for {
		u := y.s.endpoint + "/?comp=list&include=metadata"
		if marker != "" {
			u += "&marker=" + queryEscape(marker)
		}
		resp, err := y.c.get(u, "List Containers")
		if err != nil {
			return nil, err
		}
		y.noteClock(resp)
		var page containerList
		if err := parseXML(resp.Body, &page, "List Containers"); err != nil {
			return nil, err
		}
		for _, c := range page.Containers {
			if y.s.allContainers || wanted[c.Name] {
				out = append(out, container{name: c.Name, meta: c.Metadata})
				delete(wanted, c.Name)
			}
		}
		if page.NextMarker == "" || (!y.s.allContainers && len(wanted) == 0) {
			break
		}
		marker = page.NextMarker
	}
	if !y.s.allContainers && len(wanted) > 0 {
		missing := make([]string, 0, len(wanted))
		for _, n := range y.s.containers {
			if wanted[n] {
				missing = append(missing, n)
			}
		}
		inlet.Warnf("container(s) %v are configured but not found in the account", missing)
	}
	return out, nil
}

// blobs lists one container page by page (`marker`), emitting each page's documents in groups
// whose contents are downloaded together.
func (y *syncRun) blobs(c container) error {
	marker := ""
	for {
		u := y.s.endpoint + "/" + escapePath(c.name) + "?restype=container&comp=list&include=metadata&maxresults=" + strconv.Itoa(y.s.pageSize)
		if marker != "" {
			u += "&marker=" + queryEscape(marker)
		}
		resp, err := y.c.get(u, "List Blobs of container "+c.name)
		if err != nil {
			return err
		}
		y.noteClock(resp)
		var page blobList
		if err := parseXML(resp.Body, &page, "List Blobs of container "+c.name); err != nil {
			return err
		}
		if err := y.page(c, page.Blobs); err != nil {
			return err
		}
		if page.NextMarker == "" {
			return nil
		}
		marker = page.NextMarker
	}
}

// pending is one blob's document, waiting for its content.
type pending struct {
	doc  inlet.Document
	blob blobItem
	get  bool
}

func (y *syncRun) page(c container, blobs []blobItem) error {
	var group []pending
	downloads, bytes := 0, int64(0)
	flush := func() error {
		err := y.flush(c, group)
		group, downloads, bytes = group[:0], 0, 0
		return err
	}
	for _, b := range blobs {
		doc, modified := blobDocument(c.name, c.meta, b)
		if !y.since.IsZero() && modified.Before(y.since) {
			continue
		}
		y.counts.blobs++
		why := skipContent(b, y.s.sizeLimit)
		switch why {
		case "":
		case "archive":
			inlet.Warnf("%s: its content is not downloaded, the blob tier is Archive", doc.ID)
		case "size":
			inlet.Warnf("%s: %d bytes, over the %d-byte limit; indexed without content (use_text_extraction_service lifts the limit)", doc.ID, b.Properties.ContentLength, maxDownloadBytes)
		}
		group = append(group, pending{doc: doc, blob: b, get: why == ""})
		if why == "" {
			downloads++
			bytes += b.Properties.ContentLength
		}
		if downloads >= y.s.downloads || bytes >= groupBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// flush downloads the group's contents together and emits its documents. A blob deleted since
// it was listed (404) is indexed without content, as Elastic does; any other failure that
// outlasts the retries fails the sync (nothing is deleted then).
func (y *syncRun) flush(c container, group []pending) error {
	var urls, what []string
	var idx []int
	for i, p := range group {
		if p.get {
			urls = append(urls, y.s.endpoint+"/"+escapePath(c.name)+"/"+escapePath(p.blob.name()))
			what = append(what, "Get Blob "+p.doc.ID)
			idx = append(idx, i)
		}
	}
	resps, errs := y.c.getAll(urls, what)
	for j, i := range idx {
		switch {
		case errs[j] == nil:
			group[i].doc = group[i].doc.WithAttachment(resps[j].Body)
			y.counts.contents++
		case errors.Is(errs[j], errNotFound):
			inlet.Warnf("%s: deleted while the sync ran; indexed without content", group[i].doc.ID)
			group[i].get = false
		default:
			return errs[j]
		}
	}
	for _, p := range group {
		if !p.get {
			y.counts.skipped++
		}
		if !y.emit.Emit(p.doc) {
			return errStopped
		}
	}
	return nil
}

// queryEscape encodes a marker for a query value (markers are opaque; `+` and `/` must
// survive).
func queryEscape(s string) string { return escapePath(s) }
