// SPDX-License-Identifier: GPL-2.0
//
// The interop suite's driver for the JavaScript SDK (@azure/storage-blob
// from npm, on Debian's Node.js 18): the steps of driver-steps.md, one
// "R ..." line per step on stdout, "N <count>" (the HTTP requests the SDK
// sent) at the end. The environment is driver-python.py's; NODE_PATH
// finds the SDK. A bearer token comes from the instance metadata service
// (169.254.169.254) through the small credential below, which is what
// @azure/identity's ManagedIdentityCredential asks it (that package needs
// Node.js 20).
//
// Copyright (c) 2026 The hv_azure_blob authors

"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const path = require("path");
const {
	BlobServiceClient, StorageSharedKeyCredential, AnonymousCredential, newPipeline,
} = require("@azure/storage-blob");

const MIB = 1024 * 1024;
const env = process.env;
const sizes = env.IO_SIZES.split(/\s+/).filter(Boolean).map(Number);
const data = env.IO_DATA;
let requests = 0;

class ImdsCredential {
	getToken() {
		const url = "http://169.254.169.254/metadata/identity/oauth2/token" +
			"?api-version=2018-02-01&resource=" +
			encodeURIComponent("https://storage.azure.com/");
		return new Promise((resolve, reject) => {
			http.get(url, { headers: { Metadata: "true" } }, (res) => {
				let body = "";
				res.on("data", (c) => { body += c; });
				res.on("end", () => {
					if (res.statusCode !== 200) {
						reject(new Error(`IMDS: ${res.statusCode} ${body}`));
						return;
					}
					const j = JSON.parse(body);
					resolve({ token: j.access_token,
						  expiresOnTimestamp: Number(j.expires_on) * 1000 });
				});
			}).on("error", reject);
		});
	}
}

// Counts every request the pipeline sends (retries included).
const counter = {
	create(next) {
		return { sendRequest(req) { requests++; return next.sendRequest(req); } };
	},
};

function service() {
	let cred;
	let url = env.IO_URL;

	if (env.IO_AUTH === "key")
		cred = new StorageSharedKeyCredential(env.IO_ACCOUNT, env.IO_KEY);
	else if (env.IO_AUTH === "sas") {
		cred = new AnonymousCredential();
		url += "?" + env.IO_SAS;
	} else
		cred = new ImdsCredential();
	const pipeline = newPipeline(cred, { retryOptions: { maxTries: 3 } });
	pipeline.factories.unshift(counter);
	return new BlobServiceClient(url, pipeline);
}

function out(step, status, code, ...info) {
	console.log(["R", step, status, code || "-", ...info].join(" "));
}

function failed(step, err) {
	const code = err.code || (err.details && err.details.errorCode);
	out(step, err.statusCode || "err", typeof code === "string" ? code : "-");
	const msg = String(err.message || err).split("\n")[0].slice(0, 300);
	console.error(`# ${step}: ${msg}`);
}

function digest(alg, file) {
	return crypto.createHash(alg).update(fs.readFileSync(file)).digest();
}

function md5of(md5, file) {
	if (!md5 || md5.length === 0)
		return "none";
	return Buffer.from(md5).equals(digest("md5", file)) ? "match" : "other";
}

function same(etag, ref) {
	if (!etag)
		return "none";
	return etag === ref ? "same" : "differs";
}

// The transfer sizes azblobd's messages name: 4 MiB Put Blob at most, then
// 4 MiB blocks; reads in 4 MiB ranges.
const tuned = { maxSingleShotSize: 4 * MIB, blockSize: 4 * MIB };

async function matrix(cont) {
	for (const n of sizes) {
		const src = path.join(data, `s${n}`);
		const blob = cont.getBlockBlobClient(`p/s${n}`);
		let etag;

		try {
			const r = await blob.uploadFile(src, tuned);
			etag = r.etag;
			out(`put:${n}`, r._response.status, "-", "md5=" + md5of(r.contentMD5, src));
		} catch (e) {
			failed(`put:${n}`, e);
			for (const s of ["props", "get", "del"])
				out(`${s}:${n}`, "skip", "-");
			continue;
		}
		try {
			const p = await blob.getProperties();
			out(`props:${n}`, p._response.status, "-", `size=${p.contentLength}`,
			    "md5=" + md5of(p.contentMD5, src), "etag=" + same(p.etag, etag));
		} catch (e) {
			failed(`props:${n}`, e);
		}
		const dst = path.join(data, "out");
		try {
			const buf = await blob.downloadToBuffer(0, undefined,
				{ blockSize: 4 * MIB, concurrency: 2 });
			fs.writeFileSync(dst, buf);
			const p = await blob.getProperties();
			out(`get:${n}`, 200, "-",
			    "bytes=" + (digest("sha256", dst).equals(digest("sha256", src)) ? "exact" : "differ"),
			    "etag=" + same(p.etag, etag));
		} catch (e) {
			failed(`get:${n}`, e);
		}
		fs.rmSync(dst, { force: true });
		try {
			const r = await blob.delete();
			out(`del:${n}`, r._response.status);
		} catch (e) {
			failed(`del:${n}`, e);
		}
	}
	for (const name of ["l/a", "l/b", "m/c"]) {
		try {
			await cont.getBlockBlobClient(name).upload("x", 1);
		} catch (e) {
			failed(`put:${name}`, e);
		}
	}
	try {
		const names = [];
		for await (const b of cont.listBlobsFlat({ prefix: "l/" }))
			names.push(`${b.name}:${b.properties.contentLength}`);
		out("list", 200, "-", "names=" + names.join(","));
	} catch (e) {
		failed("list", e);
	}
	const a = cont.getBlobClient("l/a");
	const tries = [
		["ifmatch", () => a.download(0, undefined,
			{ conditions: { ifMatch: '"0x8D000000DEADBEE"' } })],
		["missing", () => cont.getBlobClient("l/missing").download()],
		["range", () => a.download(5, 10)],
	];
	for (const [step, f] of tries) {
		try {
			const r = await f();
			await streamToBuffer(r.readableStreamBody);
			out(step, r._response.status);
		} catch (e) {
			failed(step, e);
		}
	}
}

function streamToBuffer(s) {
	return new Promise((resolve, reject) => {
		const parts = [];
		if (!s) {
			resolve(Buffer.alloc(0));
			return;
		}
		s.on("data", (c) => parts.push(c));
		s.on("end", () => resolve(Buffer.concat(parts)));
		s.on("error", reject);
	});
}

// The SDK's own transfer sizes: uploadFile's single Put Blob up to 256 MiB,
// download()'s one GET of the whole blob.
async function defaults(cont) {
	for (const n of sizes) {
		const src = path.join(data, `s${n}`);
		const blob = cont.getBlockBlobClient(`d/s${n}`);
		try {
			const r = await blob.uploadFile(src);
			out(`dput:${n}`, r._response.status);
		} catch (e) {
			failed(`dput:${n}`, e);
			try {
				await blob.uploadFile(src, tuned);
			} catch (e2) {
				failed(`tput:${n}`, e2);
			}
		}
		try {
			const r = await blob.download();
			const buf = await streamToBuffer(r.readableStreamBody);
			const ok = crypto.createHash("sha256").update(buf).digest()
				.equals(digest("sha256", src));
			out(`dget:${n}`, r._response.status, "-", "bytes=" + (ok ? "exact" : "differ"));
		} catch (e) {
			failed(`dget:${n}`, e);
		}
	}
}

async function main() {
	const cont = service().getContainerClient(env.IO_CONTAINER);
	try {
		const r = await cont.create();
		out("create", r._response.status);
	} catch (e) {
		failed("create", e);
	}
	if (env.IO_MODE === "defaults")
		await defaults(cont);
	else
		await matrix(cont);
	try {
		const r = await cont.delete();
		out("delc", r._response.status);
	} catch (e) {
		failed("delc", e);
	}
	console.log(`N ${requests}`);
}

main().catch((e) => {
	console.error(`# driver: ${e.stack || e}`);
	process.exit(1);
});
