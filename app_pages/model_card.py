"""Model card: intended use, data and licences, caveats, metrics from the cards, limitations, reproduction."""

import streamlit as st

from app_pages.common import load_cards
from core.models.cards import MODELS, TUMOUR_NET
from core.present import summaries

DATA_SOURCES = [
    ("Brain Tumor MRI Dataset (M. Nickparvar, Kaggle), merging figshare (Cheng et al.), SARTAJ and Br35H",
     "tumour type (and presence, which follows from it)", "CC0 1.0"),
    ("BRISC 2025 (Fateh et al., arXiv 2506.14318), expert tumour masks", "segmentation", "CC BY 4.0"),
    ("LGG Segmentation Dataset kaggle_3m (Buda et al. 2019; TCGA-LGG via TCIA), FLAIR slices with masks",
     "type (tumour slices as glioma, empty ones as no tumour) and segmentation, split by patient",
     "CC BY-NC-SA 4.0, as reported by the uploader"),
    ("brain-mri-other: Alzheimer's T1 (Kaggle via Pinkshepz/Alzheimers-Class) and BraTS 2023 glioma FLAIR (via "
     "sarah-antillia); its other sources (IXI, full-head stroke T1W, BraTS 2018, metastases T2W, TCGA-DU-7294) are "
     "held out", "validation only: choosing the training epoch (a third of the score) and the guard; never trained on",
     "as stated by each source (BraTS / TCIA / IXI terms; some state none)"),
]

CAVEATS = [
    "The Kaggle data carry no patient identifiers, so slices of one patient may sit on both sides of the split; "
    "test scores may therefore be optimistic.",
    "Each prediction looks at one 2D slice; neighbouring slices, other sequences and the clinical history are not "
    "seen.",
    "Kaggle and BRISC images are mostly T1 contrast-enhanced; the LGG set is FLAIR. Other sequences, scanners and "
    "paediatric scans are outside what the network was trained on; scanner-like augmentation (skull stripping, "
    "contrast curves, bias fields, lower resolution, noise) narrows that gap without closing it (see the external "
    "test on the Model performance page).",
    "Presence is one minus the probability of no tumour, so it inherits every error of the type head; the mask is "
    "hidden whenever presence is negative, so a missed tumour also has no outline.",
    "Kaggle images are JPEG screenshots of varied provenance (compression, windowing, annotations, resolution), "
    "not DICOM exports with known acquisition parameters.",
]

LIMITATIONS = [
    "Four categories only (glioma, meningioma, pituitary tumour, no tumour); other lesions (metastases, "
    "abscesses, infarcts, post-operative change) will be forced into one of them.",
    "Probabilities are calibrated on the validation split of the same data set; on images from another "
    "hospital they may be over- or under-confident.",
    "Tumour areas are in pixels unless the file states its pixel spacing (JPEG and PNG do not), so mm² are often "
    "unavailable.",
    "No prospective or multi-centre validation has been done.",
]

st.title("Model card")
cards = load_cards()
titles = {name: model.title for name, model in MODELS.items()}

st.header("Intended use")
st.markdown("Decision support **for research**: a second look at a single 2D brain MRI slice, suggesting a tumour "
            "type, whether a tumour is present and where it is. It is not a medical device, does not diagnose, and "
            "must not be used for treatment decisions.")
st.warning(summaries.DISCLAIMER, icon="⚠️")

st.header("Models")
st.dataframe(summaries.architecture_table(cards, titles), hide_index=True)
for name, model in MODELS.items():
    if name not in cards:
        st.info(f"{model.title} ({name}): not installed; train it with `{model.train}`.")

st.header("Data provenance and licences")
st.markdown("| Data set | Used for | Licence |\n|---|---|---|\n"
            + "\n".join(f"| {source} | {use} | {licence} |" for source, use, licence in DATA_SOURCES))
st.markdown(summaries.split_counts_sentence(cards.get(TUMOUR_NET)))

st.header("Known caveats")
st.markdown("\n".join(f"- {line}" for line in
                      [summaries.duplicates_sentence(cards.get(TUMOUR_NET)), *CAVEATS,
                       summaries.heatmap_sentence(cards.get(TUMOUR_NET))]))

st.header("Metrics")
st.markdown("Headline results from the network's card; the *Model performance* page shows every curve and split.")
st.dataframe(summaries.metrics_summary_table(cards, titles), hide_index=True)

st.header("Limitations")
st.markdown("\n".join(f"- {line}" for line in LIMITATIONS))

st.header("How to reproduce")
commands = summaries.reproduce_commands(cards)
defaults = {name: model.train for name, model in MODELS.items()} | {summaries.STUDY["card"]: summaries.STUDY["train"]}
for name, train in defaults.items():
    recorded = commands.get(name)
    st.markdown(f"**{name}**" + ("" if recorded else " (no card yet; the default command)"))
    st.code(recorded or train, language="bash")
