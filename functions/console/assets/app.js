document.getElementById("app").textContent = "authfn console";
