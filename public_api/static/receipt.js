// Verifies a donation receipt in the donor's own browser, trusting nothing the page says.
//
// From the receipt's JSON and the published key list it checks that:
//   1. the leaf's JSON decodes and states the facts shown on the page;
//   2. SHA-256(0x00 || leaf) is the leaf hash the receipt and the page give (RFC 6962);
//   3. the key published for the checkpoint's range is well formed and is the one the
//      receipt names;
//   4. the checkpoint (a C2SP signed note) carries a valid Ed25519 signature by that key;
//   5. the checkpoint is this ledger's (origin = key name) and its tree holds the entry;
//   6. the inclusion proof leads from the leaf hash to the checkpoint's root
//      (RFC 9162 section 2.1.3.2).
// Then, when witnesses cosigned a checkpoint containing the receipt's, it checks that
// that checkpoint is signed by the ledger's published key, that a consistency proof
// leads from the receipt's checkpoint to it (RFC 9162 section 2.1.4.2), and each
// cosignature (c2sp.org/tlog-cosignature) under the witness keys the ledger publishes.
// Only the Web Crypto API is used: no library, nothing loaded from another site.
"use strict";

(() => {
  const dataElement = document.getElementById("receipt-data");
  const statusElement = document.getElementById("verify-status");
  const listElement = document.getElementById("verify-checks");
  const page = dataElement ? JSON.parse(dataElement.textContent) : null;
  const encoder = new TextEncoder();

  // Vietnamese first, English second, for every check and every way it can fail.
  const CHECKS = {
    leaf: {
      ok: ["Nội dung mục khớp với thông tin trên trang", "The entry states the facts shown on this page"],
      fail: ["Nội dung mục không khớp với thông tin trên trang", "The entry does not state the facts shown on this page"],
    },
    "leaf-hash": {
      ok: ["Mã băm của mục đúng với nội dung mục", "The leaf hash matches the entry's bytes"],
      fail: ["Mã băm của mục không khớp: nội dung mục đã bị thay đổi", "Leaf hash mismatch: the entry's bytes were altered"],
    },
    key: {
      ok: ["Khóa công khai đã ký điểm kiểm tra được tìm thấy", "Found the published key that signed the checkpoint"],
      fail: ["Không tìm thấy khóa công khai hợp lệ cho điểm kiểm tra", "No valid published key for the checkpoint"],
    },
    signature: {
      ok: ["Chữ ký Ed25519 của điểm kiểm tra hợp lệ", "The checkpoint's Ed25519 signature is valid"],
      fail: ["Chữ ký của điểm kiểm tra không hợp lệ", "The checkpoint's signature is invalid"],
      unsupported: ["Trình duyệt này không kiểm tra được chữ ký Ed25519", "This browser cannot check Ed25519 signatures"],
    },
    checkpoint: {
      ok: ["Điểm kiểm tra thuộc sổ cái này và chứa mục", "The checkpoint is this ledger's and contains the entry"],
      fail: ["Điểm kiểm tra không thuộc sổ cái này hoặc không chứa mục", "The checkpoint is not this ledger's or does not contain the entry"],
    },
    inclusion: {
      ok: ["Bằng chứng bao gồm dẫn đến gốc của điểm kiểm tra", "The inclusion proof leads to the checkpoint's root"],
      fail: ["Bằng chứng bao gồm không khớp với gốc của điểm kiểm tra", "The inclusion proof does not match the checkpoint's root"],
    },
  };
  const ORDER = ["leaf", "leaf-hash", "key", "signature", "checkpoint", "inclusion"];
  const WITNESS_CHECKS = {
    "witness-checkpoint": {
      ok: ["Điểm kiểm tra được chứng kiến mang chữ ký hợp lệ của sổ cái", "The witnessed checkpoint carries the ledger's valid signature"],
      fail: ["Điểm kiểm tra được chứng kiến không mang chữ ký hợp lệ của sổ cái", "The witnessed checkpoint lacks the ledger's valid signature"],
      unsupported: ["Trình duyệt này không kiểm tra được chữ ký Ed25519", "This browser cannot check Ed25519 signatures"],
    },
    "witness-consistency": {
      ok: ["Điểm kiểm tra được chứng kiến chứa điểm kiểm tra của biên nhận", "The witnessed checkpoint contains this receipt's checkpoint"],
      fail: ["Bằng chứng nhất quán không nối điểm kiểm tra của biên nhận với điểm được chứng kiến", "The consistency proof does not link this receipt's checkpoint to the witnessed one"],
    },
  };
  const COSIGNATURE = {
    ok: ["Chữ ký chứng kiến hợp lệ", "Valid cosignature"],
    fail: ["Chữ ký chứng kiến không hợp lệ", "Invalid cosignature"],
    unsupported: ["Trình duyệt này không kiểm tra được chữ ký Ed25519", "This browser cannot check Ed25519 signatures"],
  };

  class CheckFailed extends Error {
    constructor(detail, state = "fail") {
      super(detail);
      this.state = state;
    }
  }

  // Bytes and encodings -----------------------------------------------------------------

  function fromBase64(text) {
    if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw new CheckFailed("not standard base64");
    }
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function fromHex(text, size) {
    if (typeof text !== "string" || !new RegExp(`^[0-9a-f]{${2 * size}}$`).test(text)) {
      throw new CheckFailed(`not ${size} bytes of lowercase hex`);
    }
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 1) {
      bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    }
    return bytes;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  function equalBytes(a, b) {
    return a.length === b.length && a.every((value, i) => value === b[i]);
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  const hashLeaf = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
  const hashChildren = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  // RFC 9162 section 2.1.3.2: the root an inclusion proof leads to, or null. Indices are
  // halved arithmetically rather than with bit operators, which stop at 32 bits.
  async function rootFromInclusionProof(index, size, leafHash, proof) {
    if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
      return null;
    }
    let fn = index;
    let sn = size - 1;
    let r = leafHash;
    for (const p of proof) {
      if (sn === 0) {
        return null;
      }
      if (fn % 2 === 1 || fn === sn) {
        r = await hashChildren(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await hashChildren(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  function isPowerOfTwo(n) {
    let m = n;
    while (m > 1 && m % 2 === 0) {
      m /= 2;
    }
    return m === 1;
  }

  // RFC 9162 section 2.1.4.2: whether a consistency proof shows the tree of size1 and
  // root1 to be a prefix of the tree of size2 and root2.
  async function verifyConsistency(size1, size2, proof, root1, root2) {
    if (!(Number.isSafeInteger(size1) && Number.isSafeInteger(size2) && size1 > 0 && size1 <= size2)) {
      return false;
    }
    if (size1 === size2) {
      return proof.length === 0 && equalBytes(root1, root2);
    }
    if (proof.length === 0) {
      return false;
    }
    const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
    let fn = size1 - 1;
    let sn = size2 - 1;
    while (fn % 2 === 1) {
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) {
        return false;
      }
      if (fn % 2 === 1 || fn === sn) {
        fr = await hashChildren(c, fr);
        sr = await hashChildren(c, sr);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        sr = await hashChildren(sr, c);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equalBytes(fr, root1) && equalBytes(sr, root2);
  }

  // C2SP signed notes and verifier keys --------------------------------------------------

  function parseNote(note) {
    if (typeof note !== "string" || !note.endsWith("\n")) {
      throw new CheckFailed("the note does not end with a newline");
    }
    const split = note.lastIndexOf("\n\n");
    if (split < 0) {
      throw new CheckFailed("the note has no blank line before its signatures");
    }
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2, -1);
    if (!block) {
      throw new CheckFailed("the note has no signature lines");
    }
    const signatures = block.split("\n").map((line) => {
      const match = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!match) {
        throw new CheckFailed("a signature line is malformed");
      }
      const raw = fromBase64(match[2]);
      if (raw.length <= 4) {
        throw new CheckFailed("a signature is too short");
      }
      return { name: match[1], keyId: raw.slice(0, 4), signature: raw.slice(4) };
    });
    return { text, signatures };
  }

  function parseCheckpoint(text) {
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      throw new CheckFailed("the checkpoint's lines are malformed");
    }
    const root = fromBase64(lines[2]);
    if (root.length !== 32) {
      throw new CheckFailed("the checkpoint's root is not 32 bytes");
    }
    return { origin: lines[0], size: Number(lines[1]), root };
  }

  // ``type``: 1 for a log's Ed25519 key, 4 for a witness's cosignature/v1 key.
  async function parseVerifierKey(text, type = 1) {
    // <name>+<key ID hex>+<base64>: names never hold "+", but base64 may.
    const match = typeof text === "string" ? /^([^+]+)\+([0-9a-f]{8})\+(.+)$/s.exec(text) : null;
    if (!match) {
      throw new CheckFailed("the verifier key is malformed");
    }
    const parts = match.slice(1);
    const raw = fromBase64(parts[2]);
    if (raw.length !== 33 || raw[0] !== type) {
      throw new CheckFailed(`the verifier key is not an Ed25519 key of type ${type}`);
    }
    const publicKey = raw.slice(1);
    const keyId = (await sha256(concat(encoder.encode(`${parts[0]}\n`), raw))).slice(0, 4);
    if (toHex(keyId) !== parts[1]) {
      throw new CheckFailed("the verifier key's ID does not match its key");
    }
    return { name: parts[0], keyId, publicKey };
  }

  // The checks ---------------------------------------------------------------------------

  function leafObject(leaf) {
    let entry;
    try {
      entry = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(leaf));
    } catch (error) {
      throw new CheckFailed("the leaf is not UTF-8 JSON");
    }
    return entry;
  }

  function checkLeaf(receipt, entry) {
    const facts = page.facts;
    const body = (entry && entry.body) || {};
    const donor = body.donor || {};
    const claims = [
      ["kind", entry && entry.kind, "contribution"],
      ["index", entry && entry.index, facts.index],
      ["receipt index", receipt.index, facts.index],
      ["receipt ID", body.receipt_id, page.receipt_id],
      ["amount", body.amount, facts.amount],
      ["fund", body.fund, facts.fund],
      ["campaign", body.campaign === undefined ? null : body.campaign, facts.campaign],
      ["donor", donor.display, facts.donor],
    ];
    const wrong = claims.filter(([, stated, shown]) => stated !== shown).map(([name]) => name);
    if (wrong.length) {
      throw new CheckFailed(`differs in: ${wrong.join(", ")}`);
    }
  }

  async function checkLeafHash(receipt, leaf) {
    const computed = await hashLeaf(leaf);
    if (toHex(computed) !== receipt.leaf_hash || toHex(computed) !== page.facts.leaf_hash) {
      throw new CheckFailed(`computed ${toHex(computed)}`);
    }
    return computed;
  }

  // The published key period whose key signed the checkpoint of ``size``.
  function keyPeriod(keys, size) {
    const last = size - 1;
    const period = (keys.keys || []).find(
      (k) => k.from_index <= last && (k.to_index === null || last <= k.to_index),
    );
    if (!period) {
      throw new CheckFailed(`no published key covers tree size ${size}`);
    }
    return period;
  }

  async function checkKey(receipt, keys, size) {
    const period = keyPeriod(keys, size);
    const key = await parseVerifierKey(period.verifier_key);
    if (period.verifier_key !== receipt.verifier_key || period.key_id !== toHex(key.keyId)) {
      throw new CheckFailed("the receipt names another key than the published one");
    }
    return key;
  }

  async function importEd25519(publicKey) {
    try {
      return await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      throw new CheckFailed(String(error && error.name), "unsupported");
    }
  }

  async function checkSignature(note, key) {
    const claimed = note.signatures.filter((s) => s.name === key.name && equalBytes(s.keyId, key.keyId));
    if (!claimed.length) {
      throw new CheckFailed(`no signature by ${key.name}+${toHex(key.keyId)}`);
    }
    const cryptoKey = await importEd25519(key.publicKey);
    const message = encoder.encode(note.text);
    for (const sig of claimed) {
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, cryptoKey, sig.signature, message))) {
        throw new CheckFailed("Ed25519 verification failed");
      }
    }
  }

  function checkCheckpoint(receipt, checkpoint, key) {
    if (checkpoint.origin !== key.name) {
      throw new CheckFailed(`origin ${checkpoint.origin} is not ${key.name}`);
    }
    if (checkpoint.size !== receipt.tree_size || checkpoint.size !== page.facts.tree_size) {
      throw new CheckFailed(`tree size ${checkpoint.size} is not ${receipt.tree_size}`);
    }
    if (!(receipt.index < checkpoint.size)) {
      throw new CheckFailed(`entry ${receipt.index} is beyond tree size ${checkpoint.size}`);
    }
  }

  async function checkInclusion(receipt, leafHash, checkpoint) {
    const proof = (receipt.inclusion_proof || []).map((h) => fromHex(h, 32));
    const root = await rootFromInclusionProof(receipt.index, checkpoint.size, leafHash, proof);
    if (!root || !equalBytes(root, checkpoint.root)) {
      throw new CheckFailed(root ? `leads to ${toHex(root)}` : "the proof has the wrong length");
    }
  }

  // Witnesses ----------------------------------------------------------------------------

  // c2sp.org/tlog-cosignature: 8 bytes of big-endian timestamp, then an Ed25519 signature
  // over "cosignature/v1\ntime <seconds>\n" followed by the checkpoint's note text.
  async function verifyCosignature(key, signature, noteText) {
    if (signature.length !== 8 + 64) {
      throw new CheckFailed("not a cosignature/v1 signature");
    }
    const view = new DataView(signature.buffer, signature.byteOffset, 8);
    const timestamp = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    if (!Number.isSafeInteger(timestamp)) {
      throw new CheckFailed("the timestamp is out of range");
    }
    const cryptoKey = await importEd25519(key.publicKey);
    const message = encoder.encode(`cosignature/v1\ntime ${timestamp}\n${noteText}`);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, cryptoKey, signature.slice(8), message))) {
      throw new CheckFailed("Ed25519 verification failed");
    }
    return timestamp;
  }

  // Every line of the note by a witness the ledger publishes, verified; others ignored.
  async function checkCosignatures(note, published) {
    const found = [];
    for (const witness of published.witnesses || []) {
      let key;
      try {
        key = await parseVerifierKey(witness.verifier_key, 4);
      } catch (error) {
        continue; // not a key anyone could have signed with: its lines count as unknown
      }
      const claimed = note.signatures.filter((sig) => sig.name === key.name && equalBytes(sig.keyId, key.keyId));
      for (const sig of claimed) {
        const result = { name: key.name, keyId: toHex(key.keyId) };
        try {
          result.timestamp = await verifyCosignature(key, sig.signature, note.text);
          result.state = "ok";
        } catch (error) {
          result.state = error instanceof CheckFailed ? error.state : "fail";
          result.detail = error instanceof CheckFailed ? error.message : String(error);
        }
        found.push(result);
      }
    }
    return found;
  }

  function vietnamTime(seconds) {
    const moment = new Date((seconds + 7 * 3600) * 1000);
    const two = (n) => String(n).padStart(2, "0");
    return `${two(moment.getUTCDate())}/${two(moment.getUTCMonth() + 1)}/${moment.getUTCFullYear()} ${two(moment.getUTCHours())}:${two(moment.getUTCMinutes())}`;
  }

  // Running and showing ------------------------------------------------------------------

  function show(element, vi, en, extra) {
    element.replaceChildren();
    const main = document.createElement("span");
    main.textContent = vi;
    const english = document.createElement("span");
    english.lang = "en";
    english.className = "en";
    english.textContent = en;
    element.append(main, " ", english);
    if (extra) {
      const detail = document.createElement("code");
      detail.className = "detail";
      detail.textContent = extra;
      element.append(" ", detail);
    }
  }

  // ``lines``: [vi, en] pairs, the verdict first.
  function setStatus(state, lines, element = statusElement) {
    element.className = `status ${state}`;
    element.replaceChildren();
    lines.forEach(([vi, en], i) => {
      const line = document.createElement("p");
      if (i === 0) {
        line.className = "verdict";
      }
      show(line, vi, en);
      element.append(line);
    });
  }

  function checkItem(state, [vi, en], detail) {
    const item = document.createElement("li");
    item.className = `check ${state}`;
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = state === "ok" ? "✓" : "✗";
    const words = document.createElement("span");
    show(words, vi, en, state === "ok" ? "" : detail);
    item.append(mark, " ", words);
    return item;
  }

  function showChecks(element, order, table, results) {
    element.replaceChildren();
    for (const name of order) {
      const result = results[name] || { state: "fail" };
      const item = checkItem(result.state, table[name][result.state] || table[name].fail, result.detail);
      item.dataset.check = name;
      element.append(item);
    }
  }

  // Runs ``work`` as the check ``name``, recording its outcome in ``results``.
  function attempter(results) {
    return async (name, work) => {
      try {
        const value = await work();
        results[name] = { state: "ok" };
        return value;
      } catch (error) {
        const detail = error instanceof CheckFailed ? error.message : String(error);
        results[name] = { state: error instanceof CheckFailed ? error.state : "fail", detail };
        return undefined;
      }
    };
  }

  async function runWitnesses(receipt, keys, published, receiptCheckpoint) {
    const status = document.getElementById("witness-status");
    const list = document.getElementById("witness-list");
    const checks = document.getElementById("witness-checks");
    const evidence = receipt.witnessed;
    const results = {};
    const attempt = attempter(results);
    const witnessed = await attempt("witness-checkpoint", async () => {
      if (!evidence) {
        throw new CheckFailed("the receipt carries no witnessed checkpoint");
      }
      const note = parseNote(evidence.checkpoint);
      const body = parseCheckpoint(note.text);
      const key = await parseVerifierKey(keyPeriod(keys, body.size).verifier_key);
      if (body.origin !== key.name || body.size !== evidence.tree_size) {
        throw new CheckFailed(`checkpoint ${body.origin} ${body.size} is not the one named`);
      }
      await checkSignature(note, key);
      return { note, body };
    });
    await attempt("witness-consistency", async () => {
      if (!witnessed || !receiptCheckpoint) {
        const unchecked = results["witness-checkpoint"].state === "unsupported";
        throw new CheckFailed("no verified checkpoints to link", unchecked ? "unsupported" : "fail");
      }
      const proof = (evidence.consistency_proof || []).map((h) => fromHex(h, 32));
      const [first, second] = [receiptCheckpoint, witnessed.body];
      if (!(await verifyConsistency(first.size, second.size, proof, first.root, second.root))) {
        throw new CheckFailed(`from tree size ${first.size} to ${second.size}`);
      }
    });
    const order = ["witness-checkpoint", "witness-consistency"];
    showChecks(checks, order, WITNESS_CHECKS, results);

    const cosignatures = witnessed ? await checkCosignatures(witnessed.note, published) : [];
    list.replaceChildren();
    for (const found of cosignatures) {
      const when = found.state === "ok" ? ` · ${vietnamTime(found.timestamp)}` : "";
      const [vi, en] = COSIGNATURE[found.state] || COSIGNATURE.fail;
      const item = checkItem(found.state, [`${found.name} (${found.keyId})${when}: ${vi}`, en], found.detail);
      item.classList.add("witness");
      item.dataset.witness = found.name;
      list.append(item);
    }

    const good = [...new Set(cosignatures.filter((c) => c.state === "ok").map((c) => c.name))];
    const bad = cosignatures.filter((c) => c.state !== "ok");
    const failed = order.filter((name) => results[name].state !== "ok");
    if (!failed.length && good.length && !bad.length) {
      const names = good.join(", ");
      setStatus("ok", [
        [`Được chứng kiến bởi ${names}`, `Witnessed by ${names}`],
        [
          `${good.length} bên độc lập đã thấy cùng một sổ cái, và sổ cái ấy chứa khoản ủng hộ này.`,
          `${good.length} independent ${good.length === 1 ? "party" : "parties"} saw the same ledger, and it contains this gift.`,
        ],
      ], status);
    } else if (
      (failed.length || bad.length) &&
      [...failed.map((name) => results[name]), ...bad].every((r) => r.state === "unsupported")
    ) {
      const lines = [["Chưa kiểm tra được sự chứng kiến", "The witnessing is not checked"], COSIGNATURE.unsupported];
      setStatus("error", lines, status);
    } else {
      const reasons = failed.map((name) => WITNESS_CHECKS[name].fail);
      if (bad.length) {
        reasons.push(COSIGNATURE.fail);
      } else if (!good.length) {
        reasons.push(["Không có chữ ký chứng kiến nào của các bên được công bố", "No cosignature by a published witness"]);
      }
      setStatus("fail", [["Không xác nhận được sự chứng kiến", "The witnessing could not be confirmed"], ...reasons], status);
    }
  }

  async function fetchJson(urls) {
    const answers = await Promise.all(
      urls.map((url) => fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" })),
    );
    if (!answers.every((answer) => answer.ok)) {
      throw new Error(answers.map((answer) => answer.status).join(", "));
    }
    return Promise.all(answers.map((answer) => answer.json()));
  }

  async function run() {
    const witnessStatus = document.getElementById("witness-status");
    const witnessing = Boolean(page.witnessed && witnessStatus);
    if (!window.crypto || !crypto.subtle) {
      const why = [
        "Trình duyệt chỉ cho phép xác minh qua kết nối an toàn (HTTPS).",
        "Browsers allow verification over a secure (HTTPS) connection only.",
      ];
      setStatus("error", [["Không xác minh được", "Could not verify"], why]);
      if (witnessing) {
        setStatus("error", [["Chưa kiểm tra được sự chứng kiến", "The witnessing is not checked"], why], witnessStatus);
      }
      return;
    }
    setStatus("pending", [["Đang xác minh…", "Verifying…"]]);
    let receipt;
    let keys;
    let published;
    try {
      const urls = [page.receipt_json, page.keys_json, ...(witnessing ? [page.witnesses_json] : [])];
      [receipt, keys, published] = await fetchJson(urls);
    } catch (error) {
      const lines = [
        ["Không tải được dữ liệu để xác minh", "Could not load the data to verify"],
        ["Hãy kiểm tra kết nối mạng rồi tải lại trang.", "Check the network connection and reload the page."],
      ];
      setStatus("error", lines);
      if (witnessing) {
        setStatus("error", lines, witnessStatus);
      }
      return;
    }

    const results = {};
    const attempt = attempter(results);

    const leaf = await attempt("leaf", async () => {
      const bytes = fromBase64(receipt.leaf);
      checkLeaf(receipt, leafObject(bytes));
      return bytes;
    });
    const leafBytes = leaf || (() => {
      try {
        return fromBase64(receipt.leaf);
      } catch (error) {
        return null;
      }
    })();
    const leafHash = await attempt("leaf-hash", async () => {
      if (!leafBytes) {
        throw new CheckFailed("the leaf is not base64");
      }
      return checkLeafHash(receipt, leafBytes);
    });
    const note = await attempt("checkpoint", async () => parseNote(receipt.checkpoint));
    const body = note ? await attempt("checkpoint", async () => parseCheckpoint(note.text)) : undefined;
    const key = await attempt("key", async () =>
      checkKey(receipt, keys, body ? body.size : receipt.tree_size),
    );
    if (note && key) {
      await attempt("signature", async () => checkSignature(note, key));
    } else {
      results.signature = { state: "fail", detail: note ? "no key to check with" : "unreadable note" };
    }
    if (body && key) {
      await attempt("checkpoint", async () => checkCheckpoint(receipt, body, key));
    }
    if (body) {
      await attempt("inclusion", async () => {
        // The proof is checked from the hash of the leaf bytes themselves, never from the
        // hash the receipt states, so that an altered leaf cannot ride on a genuine proof.
        const start = leafHash || (leafBytes ? await hashLeaf(leafBytes) : null);
        if (!start) {
          throw new CheckFailed("no leaf to start from");
        }
        return checkInclusion(receipt, start, body);
      });
    } else {
      results.inclusion = { state: "fail", detail: "no checkpoint root to check against" };
    }

    showChecks(listElement, ORDER, CHECKS, results);
    const failed = ORDER.filter((name) => !results[name] || results[name].state !== "ok");
    if (!failed.length) {
      const keyId = toHex(key.keyId);
      setStatus("ok", [
        ["Đã xác minh", "Verified"],
        [
          `Khoản ủng hộ này có trong sổ cái, được ký bằng khóa ${keyId}.`,
          `This gift is in the ledger, signed with key ${keyId}.`,
        ],
      ]);
    } else if (failed.every((name) => results[name] && results[name].state === "unsupported")) {
      setStatus("error", [
        ["Chưa xác minh đầy đủ", "Not fully verified"],
        CHECKS.signature.unsupported,
        [
          "Hãy mở trang bằng trình duyệt mới hơn, hoặc kiểm tra tệp chứng minh không cần mạng.",
          "Open the page in a newer browser, or check the proof file offline.",
        ],
      ]);
    } else {
      setStatus("fail", [
        ["Không xác minh được", "Verification failed"],
        ...failed.map((name) => CHECKS[name][results[name] ? results[name].state : "fail"] || CHECKS[name].fail),
      ]);
    }
    if (witnessing) {
      // The witnessed tree is linked to the receipt's checkpoint only once that verified.
      const verified = !failed.includes("signature") && !failed.includes("checkpoint") ? body : undefined;
      await runWitnesses(receipt, keys, published, verified);
    }
  }

  // The pure parts, for anyone who wants to check them against another implementation.
  globalThis.receiptVerifier = Object.freeze({
    hashLeaf,
    hashChildren,
    rootFromInclusionProof,
    verifyConsistency,
    verifyCosignature,
    parseNote,
    parseVerifierKey,
    fromHex,
    toHex,
  });

  if (page && statusElement && listElement) {
    run();
  }
})();
