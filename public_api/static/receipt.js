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

  async function parseVerifierKey(text) {
    // <name>+<key ID hex>+<base64>: names never hold "+", but base64 may.
    const match = typeof text === "string" ? /^([^+]+)\+([0-9a-f]{8})\+(.+)$/s.exec(text) : null;
    if (!match) {
      throw new CheckFailed("the verifier key is malformed");
    }
    const parts = match.slice(1);
    const raw = fromBase64(parts[2]);
    if (raw.length !== 33 || raw[0] !== 1) {
      throw new CheckFailed("the verifier key is not an Ed25519 key");
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

  async function checkKey(receipt, keys, size) {
    const last = size - 1;
    const period = (keys.keys || []).find(
      (k) => k.from_index <= last && (k.to_index === null || last <= k.to_index),
    );
    if (!period) {
      throw new CheckFailed(`no published key covers tree size ${size}`);
    }
    const key = await parseVerifierKey(period.verifier_key);
    if (period.verifier_key !== receipt.verifier_key || period.key_id !== toHex(key.keyId)) {
      throw new CheckFailed("the receipt names another key than the published one");
    }
    return key;
  }

  async function checkSignature(note, key) {
    const claimed = note.signatures.filter((s) => s.name === key.name && equalBytes(s.keyId, key.keyId));
    if (!claimed.length) {
      throw new CheckFailed(`no signature by ${key.name}+${toHex(key.keyId)}`);
    }
    let cryptoKey;
    try {
      cryptoKey = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      throw new CheckFailed(String(error && error.name), "unsupported");
    }
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
  function setStatus(state, lines) {
    statusElement.className = `status ${state}`;
    statusElement.replaceChildren();
    lines.forEach(([vi, en], i) => {
      const line = document.createElement("p");
      if (i === 0) {
        line.className = "verdict";
      }
      show(line, vi, en);
      statusElement.append(line);
    });
  }

  async function run() {
    if (!window.crypto || !crypto.subtle) {
      setStatus("error", [
        ["Không xác minh được", "Could not verify"],
        [
          "Trình duyệt chỉ cho phép xác minh qua kết nối an toàn (HTTPS).",
          "Browsers allow verification over a secure (HTTPS) connection only.",
        ],
      ]);
      return;
    }
    setStatus("pending", [["Đang xác minh…", "Verifying…"]]);
    let receipt;
    let keys;
    try {
      const answers = await Promise.all(
        [page.receipt_json, page.keys_json].map((url) =>
          fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" }),
        ),
      );
      if (!answers.every((answer) => answer.ok)) {
        throw new Error(answers.map((answer) => answer.status).join(", "));
      }
      [receipt, keys] = await Promise.all(answers.map((answer) => answer.json()));
    } catch (error) {
      setStatus("error", [
        ["Không tải được dữ liệu để xác minh", "Could not load the data to verify"],
        ["Hãy kiểm tra kết nối mạng rồi tải lại trang.", "Check the network connection and reload the page."],
      ]);
      return;
    }

    const results = {};
    const attempt = async (name, work) => {
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

    listElement.replaceChildren();
    for (const name of ORDER) {
      const result = results[name] || { state: "fail" };
      const item = document.createElement("li");
      item.className = `check ${result.state}`;
      item.dataset.check = name;
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = result.state === "ok" ? "✓" : "✗";
      const words = document.createElement("span");
      const [vi, en] = CHECKS[name][result.state] || CHECKS[name].fail;
      show(words, vi, en, result.state === "ok" ? "" : result.detail);
      item.append(mark, " ", words);
      listElement.append(item);
    }

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
  }

  // The pure parts, for anyone who wants to check them against another implementation.
  globalThis.receiptVerifier = Object.freeze({
    hashLeaf,
    hashChildren,
    rootFromInclusionProof,
    parseNote,
    parseVerifierKey,
    fromHex,
    toHex,
  });

  if (page && statusElement && listElement) {
    run();
  }
})();
