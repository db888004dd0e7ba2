/* The on-site record's signing page: one signature pad per canvas (signature_pad, vendored), each writing its
   drawing as a PNG data: URL into the hidden input named by data-input; "清除" empties it. The refusal box shows
   the witness's fields instead of the party's. Without JavaScript the page says that signing needs it. */
(function () {
  "use strict";
  var pads = [];
  document.querySelectorAll("canvas[data-input]").forEach(function (canvas) {
    var input = document.getElementById(canvas.dataset.input);
    var pad = new SignaturePad(canvas, { minWidth: 1, maxWidth: 3, penColor: "#000" });
    function fit() {
      var data = pad.isEmpty() ? null : pad.toData();
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      canvas.width = canvas.offsetWidth * ratio;
      canvas.height = canvas.offsetHeight * ratio;
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
      if (data) pad.fromData(data);
    }
    pad.addEventListener("endStroke", function () {
      input.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
    });
    var clear = document.querySelector('button[data-clear="' + canvas.id + '"]');
    if (clear) clear.addEventListener("click", function () { pad.clear(); input.value = ""; });
    fit();
    window.addEventListener("resize", fit);
    pads.push(pad);
  });
  var refused = document.getElementById("id_refused");
  function toggle() {
    document.querySelectorAll("[data-when-refused]").forEach(function (el) {
      el.hidden = (el.dataset.whenRefused === "yes") !== refused.checked;
    });
  }
  if (refused) { refused.addEventListener("change", toggle); toggle(); }
  document.querySelectorAll(".needs-js").forEach(function (el) { el.hidden = true; });
  document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
})();
