"""The sample's images and questions.

Every closed answer follows from what the image is: its modality and body region (from the source file's
own header or description), the acquisition plane (from Image Orientation), the view (View Position),
the eye (the source's title), and, for two questions, a lesion named in the file's study or series
description. No answer rests on a reader's judgement of a subtle finding, so a wrong answer is wrong
beyond doubt.

Demographics are SYNTHETIC: invented per image so that the fairness slices (gender, age decade, race)
are non-empty in demos and tests. Where a DICOM header records male or female, the invented value agrees
with it; nothing else about these people is known. They measure nothing about real patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SampleImage:
    key: str  # file stem under images/ and prefix of question ids; neutral so it gives no answer away
    source: str  # "pydicom:<test file name>" or "skimage:<function name>"
    description: str
    crop: tuple[int, int, int, int] | None = None  # (left, upper, right, lower) in source pixels
    age: int | None = None
    gender: str | None = None
    race: str | None = None


IMAGES: tuple[SampleImage, ...] = (
    SampleImage("s01", "pydicom:RG1_UNCR.dcm",
                "computed radiograph of the chest, PA view (NEMA WG04 RG1, MONOCHROME1, 15-bit)",
                age=34, gender="female", race="white"),
    SampleImage("s02", "pydicom:RG3_UNCR.dcm",
                "computed radiograph of the lower leg, AP view, non-ossifying fibroma of the distal tibia "
                "(NEMA WG04 RG3, MONOCHROME1)",
                age=15, gender="female", race="black"),
    SampleImage("s03", "pydicom:693_UNCR.dcm",
                "axial non-contrast CT of the head, brain window (pydicom issue #693 data set)",
                age=71, gender="female", race="asian"),
    SampleImage("s04", "pydicom:CT_small.dcm",
                "axial CT through a thoracic vertebra, downsized by pydicom from NEMA WG04 CT1",
                age=46, gender="female", race=None),
    SampleImage("s05", "pydicom:MR2_UNCR.dcm",
                "coronal oblique MRI of the shoulder (NEMA WG04 MR2)",
                age=52, gender="male", race="white"),
    SampleImage("s06", "pydicom:MR-SIEMENS-DICOM-WithOverlays.dcm",
                "axial MRI of the upper abdomen with a marked liver lesion (series 'abdomen^liver marked lesion')",
                age=58, gender="male", race="asian"),
    SampleImage("s07", "skimage:retina",
                "colour fundus photograph of a normal left eye (Mikael Häggström, CC0)",
                age=27, gender="male", race="black"),
    SampleImage("s08", "skimage:retina",
                "crop of s07 around the optic disc",
                crop=(0, 400, 520, 920), age=27, gender="male", race="black"),
)

MODALITY = "Which imaging modality was used to acquire this image?"

# (image key, question, answer type, options or None, answer)
_QUESTIONS: tuple[tuple[str, str, str, list[str] | None, str], ...] = (
    # s01: chest radiograph, PA
    ("s01", "Is this a chest radiograph?", "yesno", None, "yes"),
    ("s01", MODALITY, "mc", ["MRI", "CT", "X-ray", "Ultrasound"], "C"),
    ("s01", "Is this a lateral view?", "yesno", None, "no"),
    ("s01", "Which projection is this chest radiograph?", "mc",
     ["Posteroanterior (PA)", "Lateral", "Apical lordotic", "Lateral decubitus"], "A"),
    ("s01", "Are the lungs visible in this image?", "yesno", None, "yes"),
    ("s01", "On which side of the patient does the cardiac apex lie?", "mc",
     ["The patient's right", "The patient's left"], "B"),
    ("s01", "Which body region does this radiograph show?", "open", None,
     "The chest: both lungs, the heart and the ribs."),
    # s02: lower leg radiograph
    ("s02", "Is this a radiograph of the lower leg?", "yesno", None, "yes"),
    ("s02", "Which bones run along the length of this image?", "mc",
     ["Femur", "Humerus", "Radius and ulna", "Tibia and fibula"], "D"),
    ("s02", "Is this an image of the chest?", "yesno", None, "no"),
    ("s02", "Was this image acquired with an MRI scanner?", "yesno", None, "no"),
    ("s02", "Is the ankle joint included in this image?", "yesno", None, "yes"),
    ("s02", "Which bone contains the lesion seen in this radiograph?", "open", None,
     "The distal tibia (a non-ossifying fibroma)."),
    # s03: head CT
    ("s03", "Is this a CT image of the head?", "yesno", None, "yes"),
    ("s03", MODALITY, "mc", ["CT", "X-ray", "MRI", "Ultrasound"], "A"),
    ("s03", "In which plane was this image acquired?", "mc", ["Sagittal", "Coronal", "Axial"], "C"),
    ("s03", "Is this an image of the abdomen?", "yesno", None, "no"),
    ("s03", "Is the skull visible in this image?", "yesno", None, "yes"),
    ("s03", "Which organ is shown inside the skull in this image?", "open", None, "The brain."),
    # s04: thoracic CT slice
    ("s04", "Is this an axial CT image?", "yesno", None, "yes"),
    ("s04", "Which bony structure is at the centre of this image?", "mc",
     ["Vertebra", "Femoral head", "Skull", "Patella"], "A"),
    ("s04", "Is this a fundus photograph?", "yesno", None, "no"),
    ("s04", "Is this an MRI image?", "yesno", None, "no"),
    ("s04", MODALITY, "mc", ["Ultrasound", "X-ray", "MRI", "CT"], "D"),
    # s05: shoulder MRI
    ("s05", "Is this a magnetic resonance image?", "yesno", None, "yes"),
    ("s05", "Which joint is shown in this image?", "mc", ["Knee", "Hip", "Shoulder", "Elbow"], "C"),
    ("s05", "Is this an X-ray?", "yesno", None, "no"),
    ("s05", "Is this an image of the knee?", "yesno", None, "no"),
    ("s05", "The head of which bone is seen in this image?", "mc", ["Femur", "Radius", "Tibia", "Humerus"], "D"),
    ("s05", "What imaging modality is this, and which joint does it show?", "open", None,
     "An MRI of the shoulder joint."),
    # s06: abdominal MRI
    ("s06", "Is this an MRI of the abdomen?", "yesno", None, "yes"),
    ("s06", "In which plane was this image acquired?", "mc", ["Axial", "Sagittal", "Coronal"], "A"),
    ("s06", "Are the kidneys visible in this image?", "yesno", None, "yes"),
    ("s06", "Is this a chest radiograph?", "yesno", None, "no"),
    ("s06", "Is there a focal lesion in the liver?", "yesno", None, "yes"),
    ("s06", MODALITY, "mc", ["Ultrasound", "X-ray", "MRI", "CT"], "C"),
    ("s06", "Which abdominal organs can be identified in this image?", "open", None,
     "The liver and both kidneys."),
    # s07: fundus photograph, left eye
    ("s07", "Is this a fundus photograph?", "yesno", None, "yes"),
    ("s07", MODALITY, "mc", ["Fundus photography", "CT", "MRI", "X-ray"], "A"),
    ("s07", "Which eye is shown in this image?", "mc", ["Right eye", "Left eye"], "B"),
    ("s07", "Is the optic disc visible in this image?", "yesno", None, "yes"),
    ("s07", "Is this an image of the brain?", "yesno", None, "no"),
    ("s07", "Is this a radiograph?", "yesno", None, "no"),
    ("s07", "Which part of the body does this image show?", "open", None,
     "The retina at the back of the eye, with the optic disc, the blood vessels and the macula."),
    # s08: crop around the optic disc
    ("s08", "Is the optic disc visible in this image?", "yesno", None, "yes"),
    ("s08", "Which part of the body does this image show?", "mc", ["Skin", "Lung", "Bone", "Retina"], "D"),
    ("s08", "Is this a chest CT?", "yesno", None, "no"),
    ("s08", "Which structure is the bright, round area in this image?", "open", None,
     "The optic disc (optic nerve head)."),
)


def image_path(key: str) -> str:
    return f"images/{key}.png"


def questions() -> list[dict[str, Any]]:
    """The questions in the custom schema, in a fixed order, each with its image's demographics."""
    by_key = {image.key: image for image in IMAGES}
    counters: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for key, question, answer_type, options, answer in _QUESTIONS:
        image = by_key[key]
        counters[key] = counters.get(key, 0) + 1
        row: dict[str, Any] = {
            "id": f"{key}-q{counters[key]:02d}",
            "image": image_path(key),
            "question": question,
            "answer_type": answer_type,
        }
        if options is not None:
            row["options"] = list(options)
        row.update({"answer": answer, "age": image.age, "gender": image.gender, "race": image.race})
        rows.append(row)
    return rows
