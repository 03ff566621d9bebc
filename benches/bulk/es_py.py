"""elasticsearch-py's bulk helpers against the same null `_bulk` server, with the same documents
the `loadgen` plugin makes (ids doc-<n>, ~doc_bytes JSON bodies).

    python3 es_py.py URL COUNT DOC_BYTES streaming|parallel
Prints one JSON line: {"helper", "docs", "seconds", "docs_per_s"}.
"""
import json
import sys
import time

from elasticsearch import Elasticsearch, helpers


def docs(count, doc_bytes, index):
    padding = ("lorem ipsum dolor sit amet " * (doc_bytes // 27 + 1))[: max(doc_bytes - 90, 0)]
    for n in range(count):
        yield {
            "_index": index,
            "_id": f"doc-{n}",
            "_source": {"title": f"Document {n}", "n": n, "seed": "inlet", "even": n % 2 == 0, "text": padding},
        }


def main():
    url, count, doc_bytes, helper = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    es = Elasticsearch(url, request_timeout=60)
    start = time.perf_counter()
    ok = 0
    if helper == "streaming":
        for success, _ in helpers.streaming_bulk(es, docs(count, doc_bytes, "bench"), raise_on_error=True):
            ok += success
    else:
        for success, _ in helpers.parallel_bulk(es, docs(count, doc_bytes, "bench"), raise_on_error=True):
            ok += success
    seconds = time.perf_counter() - start
    assert ok == count, f"{ok} of {count} acknowledged"
    print(json.dumps({"helper": helper, "docs": count, "seconds": seconds, "docs_per_s": count / seconds}))


if __name__ == "__main__":
    main()
