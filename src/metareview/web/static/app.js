// metareview's own script: keyboard shortcuts on the screening page. Pages work without it.
// i / e / m vote, s skips, u goes back to your last vote that can still change; at full
// text, e first asks for an exclusion reason when none is chosen.
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
})();
