// metareview's own script for the extraction form: as a field is typed, the values of the
// whole form are sent (not saved) to the check endpoint, and what was read, the form's
// message and the integrity findings are shown beside each field. The page works without
// it: a save shows the same messages. Text only (textContent), never HTML.
(function () {
  "use strict";
  var form = document.getElementById("extraction-form");
  if (!form || !window.fetch) {
    return;
  }
  var url = form.dataset.checkUrl;
  var token = form.querySelector('input[name="csrf_token"]').value;
  var timer = null;
  var sequence = 0;

  function values() {
    var out = {};
    form.querySelectorAll('[name^="f."]').forEach(function (input) {
      out[input.name.slice(2)] = input.value;
    });
    return out;
  }

  function show(name, entry, flags) {
    var box = form.querySelector('.field[data-field="' + CSS.escape(name) + '"]');
    if (!box) {
      return;
    }
    var reading = box.querySelector("[data-reading-for]");
    reading.textContent = entry.reading ? "read as " + entry.reading : "";
    var error = box.querySelector("[data-error-for]");
    error.textContent = entry.error || "";
    error.hidden = !entry.error;
    box.classList.toggle("invalid", Boolean(entry.error));
    var list = box.querySelector("[data-flags-for]");
    list.textContent = "";
    (flags || []).forEach(function (flag) {
      var item = document.createElement("li");
      item.className = "flag " + flag.severity;
      item.dataset.check = flag.check;
      var strong = document.createElement("strong");
      strong.textContent = flag.check;
      item.appendChild(strong);
      item.appendChild(document.createTextNode(": " + flag.message));
      list.appendChild(item);
    });
    list.hidden = !(flags && flags.length);
    box.classList.toggle("flagged", Boolean(flags && flags.length));
  }

  function check() {
    var mine = ++sequence;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify({ study: form.dataset.study, values: values() })
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (result) {
        if (!result || mine !== sequence) {
          return; // an older answer than the last request: ignore it
        }
        Object.keys(result.fields).forEach(function (name) {
          show(name, result.fields[name], result.flags[name]);
        });
        form.dataset.checked = String(mine);
      })
      .catch(function () {});
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  });
  form.addEventListener("change", function () {
    clearTimeout(timer);
    check();
  });
})();
