"""The works the methods text cites, each once: how the text cites it, the reference, and its BibTeX.

Every entry is a work that `docs/design.md` or the README already cites for what the code does;
`interp.analysis.methods` cites an entry only where the run and its settings use it, and
`bibtex` writes the entries a text cites into `references.bib`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from interp.core.registry import Registry


@dataclass(frozen=True)
class Reference:
    """A cited work: `name` is its BibTeX key, `cite` the in-text form, `entry` the formatted reference."""

    name: str
    cite: str
    entry: str
    bibtex: str


REFERENCES: Registry[Reference] = Registry("reference")


def _add(name: str, cite: str, entry: str, fields: dict[str, str], kind: str = "article") -> None:
    body = ",\n".join(f"  {field} = {{{value}}}" for field, value in fields.items())
    REFERENCES.add(Reference(name, cite, entry, f"@{kind}{{{name},\n{body}\n}}\n"))


_add("kobayashi2020attention", "Kobayashi et al. 2020",
     "Kobayashi, G., Kuribayashi, T., Yokoi, S. & Inui, K. (2020). Attention is Not Only a Weight: Analyzing "
     "Transformers with Vector Norms. Proceedings of EMNLP 2020, 7057–7075.",
     {"author": "Kobayashi, Goro and Kuribayashi, Tatsuki and Yokoi, Sho and Inui, Kentaro",
      "title": "Attention is Not Only a Weight: Analyzing Transformers with Vector Norms",
      "booktitle": "Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing (EMNLP)",
      "pages": "7057--7075", "publisher": "Association for Computational Linguistics", "year": "2020"},
     kind="inproceedings")
_add("benjamini1995controlling", "Benjamini & Hochberg 1995",
     "Benjamini, Y. & Hochberg, Y. (1995). Controlling the False Discovery Rate: A Practical and Powerful Approach "
     "to Multiple Testing. Journal of the Royal Statistical Society, Series B, 57(1), 289–300.",
     {"author": "Benjamini, Yoav and Hochberg, Yosef",
      "title": "Controlling the False Discovery Rate: A Practical and Powerful Approach to Multiple Testing",
      "journal": "Journal of the Royal Statistical Society, Series B (Methodological)", "volume": "57",
      "number": "1", "pages": "289--300", "year": "1995"})
_add("efron1987better", "Efron 1987",
     "Efron, B. (1987). Better Bootstrap Confidence Intervals. Journal of the American Statistical Association, "
     "82(397), 171–185.",
     {"author": "Efron, Bradley", "title": "Better Bootstrap Confidence Intervals",
      "journal": "Journal of the American Statistical Association", "volume": "82", "number": "397",
      "pages": "171--185", "year": "1987"})
_add("efron1993introduction", "Efron & Tibshirani 1993",
     "Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall, New York.",
     {"author": "Efron, Bradley and Tibshirani, Robert J.", "title": "An Introduction to the Bootstrap",
      "publisher": "Chapman \\& Hall", "address": "New York", "year": "1993"}, kind="book")
_add("davison1997bootstrap", "Davison & Hinkley 1997",
     "Davison, A. C. & Hinkley, D. V. (1997). Bootstrap Methods and their Application. Cambridge University Press.",
     {"author": "Davison, Anthony C. and Hinkley, David V.", "title": "Bootstrap Methods and their Application",
      "publisher": "Cambridge University Press", "address": "Cambridge", "year": "1997"}, kind="book")
_add("saravanan2020application", "Saravanan et al. 2020",
     "Saravanan, V., Berman, G. J. & Sober, S. J. (2020). Application of the hierarchical bootstrap to multi-level "
     "data in neuroscience. Neurons, Behavior, Data analysis, and Theory, 3(5).",
     {"author": "Saravanan, Varun and Berman, Gordon J. and Sober, Samuel J.",
      "title": "Application of the hierarchical bootstrap to multi-level data in neuroscience",
      "journal": "Neurons, Behavior, Data analysis, and Theory", "volume": "3", "number": "5", "year": "2020"})
_add("phipson2010permutation", "Phipson & Smyth 2010",
     "Phipson, B. & Smyth, G. K. (2010). Permutation P-values Should Never Be Zero: Calculating Exact P-values When "
     "Permutations Are Randomly Drawn. Statistical Applications in Genetics and Molecular Biology, 9(1), Article 39.",
     {"author": "Phipson, Belinda and Smyth, Gordon K.",
      "title": "Permutation P-values Should Never Be Zero: Calculating Exact P-values When Permutations Are Randomly "
               "Drawn",
      "journal": "Statistical Applications in Genetics and Molecular Biology", "volume": "9", "number": "1",
      "pages": "Article 39", "year": "2010"})
_add("okabe2008color", "Okabe & Ito 2008",
     "Okabe, M. & Ito, K. (2008). Color Universal Design (CUD): How to make figures and presentations that are "
     "friendly to colorblind people. J*Fly, https://jfly.uni-koeln.de/color/.",
     {"author": "Okabe, Masataka and Ito, Kei",
      "title": "Color Universal Design ({CUD}): How to make figures and presentations that are friendly to "
               "colorblind people",
      "howpublished": "\\url{https://jfly.uni-koeln.de/color/}", "year": "2008"}, kind="misc")


_add("syed2023attribution", "Syed et al. 2023",
     "Syed, A., Rager, C. & Conmy, A. (2023). Attribution Patching Outperforms Automated Circuit Discovery. "
     "arXiv:2310.10348.",
     {"author": "Syed, Aaquib and Rager, Can and Conmy, Arthur",
      "title": "Attribution Patching Outperforms Automated Circuit Discovery", "journal": "arXiv preprint",
      "eprint": "2310.10348", "archivePrefix": "arXiv", "year": "2023"})
_add("kramar2024atp", "Kramár et al. 2024",
     "Kramár, J., Lieberum, T., Shah, R. & Nanda, N. (2024). AtP*: An efficient and scalable method for localizing "
     "LLM behaviour to components. arXiv:2403.00745.",
     {"author": "Kram{\\'a}r, J{\\'a}nos and Lieberum, Tom and Shah, Rohin and Nanda, Neel",
      "title": "AtP*: An efficient and scalable method for localizing LLM behaviour to components",
      "journal": "arXiv preprint", "eprint": "2403.00745", "archivePrefix": "arXiv", "year": "2024"})
_add("zhang2024best", "Zhang & Nanda 2024",
     "Zhang, F. & Nanda, N. (2024). Towards Best Practices of Activation Patching in Language Models: Metrics and "
     "Methods. International Conference on Learning Representations (ICLR 2024).",
     {"author": "Zhang, Fred and Nanda, Neel",
      "title": "Towards Best Practices of Activation Patching in Language Models: Metrics and Methods",
      "booktitle": "International Conference on Learning Representations", "year": "2024"}, kind="inproceedings")
_add("heimersheim2024patching", "Heimersheim & Nanda 2024",
     "Heimersheim, S. & Nanda, N. (2024). How to use and interpret activation patching. arXiv:2404.15255.",
     {"author": "Heimersheim, Stefan and Nanda, Neel", "title": "How to use and interpret activation patching",
      "journal": "arXiv preprint", "eprint": "2404.15255", "archivePrefix": "arXiv", "year": "2024"})


def cite(name: str) -> str:
    """The in-text citation of a registered work (`Benjamini & Hochberg 1995`)."""
    return REFERENCES.named(name).cite


def bibtex(names: Iterable[str]) -> str:
    """The BibTeX entries of the named works, each once, in the order first named."""
    return "\n".join(REFERENCES.named(name).bibtex for name in dict.fromkeys(names))
