// The console works without this file. It adds, where the browser allows: a camera capture for the
// portrait, a print button on the hand-out, and focus on an error summary so keyboard and screen
// reader users land on what went wrong. Loaded from this origin only (the CSP forbids inline code).
(function () {
  "use strict";

  function focusErrors() {
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
  }

  function printButtons() {
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { window.print(); });
    });
  }

  // Camera: preview the camera, take a picture, and put it into the portrait file input as a JPEG,
  // so the form uploads it like a file from the capture station.
  function camera() {
    var input = document.getElementById("portrait");
    var box = document.querySelector(".camera");
    if (!input || !box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
        typeof DataTransfer === "undefined") {
      return;
    }
    var start = box.querySelector("[data-camera-start]");
    var video = box.querySelector("[data-camera-video]");
    var take = box.querySelector("[data-camera-take]");
    var status = box.querySelector("[data-camera-status]");
    var stream = null;
    box.hidden = false;
    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false }).then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        take.hidden = false;
        video.play();
        take.focus();
      }).catch(function () {
        status.textContent = start.textContent + ": ✘";
      });
    });
    take.addEventListener("click", function () {
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth || 640;
      canvas.height = video.videoHeight || 480;
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        var dt = new DataTransfer();
        dt.items.add(new File([blob], "portrait.jpg", { type: "image/jpeg" }));
        input.files = dt.files;
        status.textContent = "✔ portrait.jpg (" + Math.ceil(blob.size / 1024) + " KiB)";
        if (stream) {
          stream.getTracks().forEach(function (t) { t.stop(); });
        }
        video.hidden = true;
        take.hidden = true;
        input.focus();
      }, "image/jpeg", 0.92);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrors();
    printButtons();
    camera();
  });
})();
