// SPDX-License-Identifier: MIT
// otlp_decode.js: the independent decoder of the protobuf tests. Reads an
// ExportTraceServiceRequest or ExportMetricsServiceRequest with the
// protobufjs root generated from the official OTLP schema (npm
// @opentelemetry/otlp-transformer@0.216.0, under $STDBTEL_NODE_MODULES) and
// prints it as canonical lines that a C test compares field by field.
//
//   node otlp_decode.js traces|metrics FILE
//
// Output: one item per line, "-" for a field the message does not have.
//   resource KEY TYPE=VALUE          (strings JSON-quoted)
//   scope NAME VERSION
//   span TRACEID SPANID PARENT NAME kind=K start=NS end=NS flags=F status=CODE MESSAGE
//   attr KEY TYPE=VALUE              (of the span above)
//   metric NAME unit=U description=D
//   sum temporality=T monotonic=B
//   exphist temporality=T
//   point start=NS time=NS [as_int=N | as_double=X] attrs=[KEY:TYPE=VALUE ...]
//   hist count=N sum=X min=X max=X scale=S zero_count=N zero_threshold=X positive=OFFSET:[C,...] negative=...
// Exit status 2 when the module cannot be loaded or the bytes do not decode.
'use strict';

const fs = require('fs');

const modules = process.env.STDBTEL_NODE_MODULES;
if (!modules) {
	console.error('STDBTEL_NODE_MODULES is not set (scripts/test.sh installs the npm packages and sets it)');
	process.exit(2);
}
let root;
try {
	root = require(modules + '/@opentelemetry/otlp-transformer/build/src/generated/root');
} catch (e) {
	console.error('cannot load @opentelemetry/otlp-transformer from ' + modules + ': ' + e.message);
	process.exit(2);
}

const [kind, file] = process.argv.slice(2);
const types = {
	traces: root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest,
	metrics: root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest,
};
if (!types[kind] || !file) {
	console.error('usage: otlp_decode.js traces|metrics FILE');
	process.exit(2);
}
let request;
try {
	const T = types[kind];
	request = T.toObject(T.decode(fs.readFileSync(file)), { longs: String, enums: Number, bytes: String });
} catch (e) {
	console.error('decode failed: ' + e.message);
	process.exit(2);
}

const out = [];
const hex = (b64) => (b64 ? Buffer.from(b64, 'base64').toString('hex') : '-');
const opt = (v) => (v === undefined || v === null ? '-' : String(v));
const str = (v) => (v === undefined || v === null ? '-' : JSON.stringify(v));

function anyValue(v) {
	if (!v) return 'empty';
	if ('stringValue' in v) return 'string=' + JSON.stringify(v.stringValue);
	if ('intValue' in v) return 'int=' + v.intValue;
	if ('doubleValue' in v) return 'double=' + v.doubleValue;
	if ('boolValue' in v) return 'bool=' + v.boolValue;
	if ('bytesValue' in v) return 'bytes=' + v.bytesValue;
	if ('arrayValue' in v) return 'array=[' + (v.arrayValue.values || []).map(anyValue).join(',') + ']';
	if ('kvlistValue' in v) return 'kvlist=[' + (v.kvlistValue.values || []).map((kv) => kv.key + ':' + anyValue(kv.value)).join(',') + ']';
	return 'empty';
}

function resource(res, scopes) {
	for (const kv of (res && res.attributes) || []) out.push('resource ' + kv.key + ' ' + anyValue(kv.value));
	for (const s of scopes) out.push('scope ' + opt(s.scope && s.scope.name) + ' ' + opt(s.scope && s.scope.version));
}

function points(dps) {
	return dps || [];
}

function pointAttrs(p) {
	return 'attrs=[' + (p.attributes || []).map((kv) => kv.key + ':' + anyValue(kv.value)).join(' ') + ']';
}

function buckets(b) {
	if (!b) return '-';
	return (b.offset || 0) + ':[' + (b.bucketCounts || []).join(',') + ']';
}

if (kind === 'traces') {
	for (const rs of request.resourceSpans || []) {
		resource(rs.resource, rs.scopeSpans || []);
		for (const ss of rs.scopeSpans || []) {
			for (const s of ss.spans || []) {
				const st = s.status || {};
				out.push(['span', hex(s.traceId), hex(s.spanId), hex(s.parentSpanId), JSON.stringify(s.name || ''),
					'kind=' + (s.kind || 0), 'start=' + opt(s.startTimeUnixNano), 'end=' + opt(s.endTimeUnixNano),
					'flags=' + (s.flags || 0), 'status=' + (st.code || 0), str(st.message)].join(' '));
				for (const kv of s.attributes || []) out.push('attr ' + kv.key + ' ' + anyValue(kv.value));
			}
		}
	}
} else {
	for (const rm of request.resourceMetrics || []) {
		resource(rm.resource, rm.scopeMetrics || []);
		for (const sm of rm.scopeMetrics || []) {
			for (const m of sm.metrics || []) {
				out.push('metric ' + m.name + ' unit=' + str(m.unit) + ' description=' + str(m.description));
				if (m.sum) {
					out.push('sum temporality=' + (m.sum.aggregationTemporality || 0) + ' monotonic=' + !!m.sum.isMonotonic);
					for (const p of points(m.sum.dataPoints)) {
						const v = 'asInt' in p ? 'as_int=' + p.asInt : 'as_double=' + opt(p.asDouble);
						out.push('point start=' + opt(p.startTimeUnixNano) + ' time=' + opt(p.timeUnixNano) + ' ' + v + ' ' + pointAttrs(p));
					}
				} else if (m.exponentialHistogram) {
					out.push('exphist temporality=' + (m.exponentialHistogram.aggregationTemporality || 0));
					for (const p of points(m.exponentialHistogram.dataPoints)) {
						out.push('point start=' + opt(p.startTimeUnixNano) + ' time=' + opt(p.timeUnixNano) + ' ' + pointAttrs(p));
						out.push(['hist', 'count=' + (p.count || '0'), 'sum=' + opt(p.sum), 'min=' + opt(p.min), 'max=' + opt(p.max),
							'scale=' + (p.scale || 0), 'zero_count=' + (p.zeroCount || '0'), 'zero_threshold=' + (p.zeroThreshold || 0),
							'positive=' + buckets(p.positive), 'negative=' + buckets(p.negative)].join(' '));
					}
				} else {
					out.push('other');
				}
			}
		}
	}
}
process.stdout.write(out.map((l) => l + '\n').join(''));
