// SPDX-License-Identifier: MIT
// statsd_flush_backend.js: a backend for Etsy statsd 0.9 (npm `statsd`)
// for the tests: it appends every flush to the file named by the config key
// `stdbtelFlushFile`, as tab-separated lines a C test reads with sscanf:
//
//   counter <key> <value>
//   gauge   <key> <value>
//   timer   <key> <field> <value>   every number in timer_data (count,
//                                   count_ps, lower, upper, mean, median,
//                                   sum, upper_90, ...) and `values`, the
//                                   number of raw values received
//   flush   <n>                     last line of every flush, n from 1
//
// A key never holds a tab or newline (statsd turns whitespace into '_').
// Each flush is one appendFileSync, so a reader sees whole flushes or a
// partial last one without its `flush` line.
'use strict';

const fs = require('fs');

exports.init = function (startupTime, config, events) {
	const file = config.stdbtelFlushFile;
	if (!file)
		return false;
	let flushes = 0;
	events.on('flush', function (timestamp, metrics) {
		const out = [];
		for (const key in metrics.counters)
			out.push('counter\t' + key + '\t' + metrics.counters[key]);
		for (const key in metrics.gauges)
			out.push('gauge\t' + key + '\t' + metrics.gauges[key]);
		for (const key in metrics.timer_data) {
			const data = metrics.timer_data[key];
			for (const field in data) {
				if (typeof data[field] === 'number')
					out.push('timer\t' + key + '\t' + field + '\t' + data[field]);
			}
			const raw = metrics.timers[key];
			out.push('timer\t' + key + '\tvalues\t' + (raw ? raw.length : 0));
		}
		flushes++;
		out.push('flush\t' + flushes);
		fs.appendFileSync(file, out.join('\n') + '\n');
	});
	return true;
};
