// MathJax 3, served from this site. Typesets the `$...$` and `$$...$$` that notebook pages keep
// as text and the `\(...\)` and `\[...\]` that pymdownx.arithmatex writes in Markdown pages.
// Nothing restricts it to `.arithmatex` elements: the notebook's math has no such class.
window.MathJax = {
  loader: {
    // textmacros reads `\_` and other text-mode macros inside `\text{}` and `\texttt{}`, which
    // otherwise show their backslash: `\text{fan\_in}` must read "fan_in". The hook copies it
    // next to tex-svg.js, where the loader finds it.
    load: ["[tex]/textmacros"],
  },
  tex: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    // Without noundefined an unknown macro is an error that the browser test finds, rather
    // than its name quietly shown in red.
    packages: { "[+]": ["textmacros"], "[-]": ["noundefined"] },
  },
  options: {
    // mkdocs-jupyter keeps each code cell's source as text in a hidden .clipboard-copy-txt
    // element for its copy button; math typeset there would be copied instead of the code.
    ignoreHtmlClass: "mathjax_ignore|clipboard-copy-txt",
  },
  svg: {
    fontCache: "global",
  },
};
