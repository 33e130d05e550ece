// metareview's own script: keyboard shortcuts on the screening page. Pages work without it.
// i / e / m vote, s skips, u goes back to your last vote that can still change; at full
// text, e first asks for an exclusion reason when none is chosen. With this script a vote,
// a skip and an undo update the page in place: the form is sent with fetch, and the page the
// server answers with (the next record, or the same record with its message) replaces the
// <main> element, so the page is not reloaded; each update counts up
// <html data-updates="n">.
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function reasonGiven(form) {
    var select = form.querySelector("#reason");
    var other = form.querySelector("#other-reason");
    return (select && select.value.trim() !== "") || (other && other.value.trim() !== "");
  }

  function say(text) {
    var box = document.getElementById("message");
    if (!box) {
      box = document.createElement("p");
      box.id = "message";
      box.className = "error";
      box.setAttribute("role", "alert");
      var record = document.getElementById("record");
      if (record) {
        record.parentNode.insertBefore(box, record);
      } else {
        document.body.appendChild(box);
      }
    }
    box.textContent = text;
  }

  var busy = false;
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) {
      return;
    }
    var key = event.key.toLowerCase();
    var target = document.querySelector('[data-key="' + key + '"]');
    if (!target || busy) {
      return;
    }
    event.preventDefault();
    var form = document.getElementById("vote-form");
    if (key === "e" && form && form.dataset.stage === "full_text" && !reasonGiven(form)) {
      say("Choose or type an exclusion reason, then press e again (or click Exclude).");
      var select = form.querySelector("#reason");
      (select && select.options.length > 1 ? select : form.querySelector("#other-reason")).focus();
      return;
    }
    busy = true; // one vote per key press, even if the key repeats before the next page
    target.click();
  });

  // Enter in the reason field excludes (the reason was asked for by e).
  function bind() {
    var other = document.getElementById("other-reason");
    if (other) {
      other.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          var exclude = document.querySelector('[data-key="e"]');
          if (exclude && other.value.trim() !== "") {
            exclude.click();
          }
        }
      });
    }
    var select = document.getElementById("reason");
    if (select) {
      select.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && select.value !== "") {
          event.preventDefault();
          document.querySelector('[data-key="e"]').click();
        }
      });
    }
  }

  // The server's page replaces <main>; on any failure the browser does it the plain way.
  function load(url, options, fallback) {
    fetch(url, Object.assign({ credentials: "same-origin" }, options))
      .then(function (response) {
        return response.text().then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var main = page.querySelector("main");
          if (!main || !response.url) {
            throw new Error("not a page of this app");
          }
          document.querySelector("main").replaceWith(document.adoptNode(main));
          document.title = page.title;
          history.replaceState(null, "", response.url);
          var root = document.documentElement;
          root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
          busy = false;
          bind();
        });
      })
      .catch(function () {
        fallback();
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "vote-form" || !window.fetch) {
      return;
    }
    event.preventDefault();
    var data = new FormData(form);
    var button = event.submitter;
    if (button && button.name) {
      data.append(button.name, button.value);
    }
    busy = true;
    load(form.action, { method: "POST", body: new URLSearchParams(data) }, function () {
      if (button && button.name) {
        var chosen = document.createElement("input");
        chosen.type = "hidden";
        chosen.name = button.name;
        chosen.value = button.value;
        form.appendChild(chosen);
      }
      form.submit();
    });
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-key]");
    if (!link || !window.fetch || event.button !== 0 || event.ctrlKey || event.metaKey) {
      return;
    }
    event.preventDefault();
    busy = true;
    load(link.href, { method: "GET" }, function () {
      window.location.assign(link.href);
    });
  });

  bind();
})();
