"""Word pools for generated text: Spanish and English, accents and ñ included on purpose."""

from __future__ import annotations

FIRST_NAMES = (
    "María",
    "José",
    "Ana",
    "Luis",
    "Carmen",
    "Jorge",
    "Lucía",
    "Andrés",
    "Sofía",
    "Nicolás",
    "Valentina",
    "Tomás",
    "Gabriela",
    "Ramón",
    "Inés",
    "Joaquín",
    "Mariana",
    "Julián",
    "Renée",
    "Pieter",
    "Shanaira",
    "Kevin",
    "Yesenia",
    "Óscar",
    "Zoë",
    "Marlon",
    "Ximena",
    "Iñaki",
)
LAST_NAMES = (
    "González",
    "Rodríguez",
    "Pérez",
    "Fernández",
    "López",
    "Martínez",
    "Sánchez",
    "Ramírez",
    "Núñez",
    "Ibáñez",
    "Croes",
    "Maduro",
    "Arends",
    "Kock",
    "Vargas",
    "Jiménez",
    "Muñoz",
    "Castillo",
    "Peña",
    "Quirós",
    "Solano",
    "de la Cruz",
    "van der Biest",
    "O'Neil",
)
STREETS = (
    "Calle Primera",
    "Avenida Central",
    "Camino Real",
    "Boulevard Los Próceres",
    "Calle del Sol",
    "Paseo Colón",
    "Sabana Blanco",
    "Salina Cerca",
    "Avenida Balboa",
    "Calle Ñandú",
)
ADJ_ES = (
    ("Hermoso", "Hermosa"), ("Amplio", "Amplia"), ("Acogedor", "Acogedora"),
    ("Moderno", "Moderna"), ("Espectacular", "Espectacular"), ("Encantador", "Encantadora"),
    ("Lujoso", "Lujosa"),
)  # fmt: skip
"""(masculine, feminine): the adjective agrees with the noun in KIND_ES."""
ADJ_EN = ("Beautiful", "Spacious", "Cozy", "Modern", "Stunning", "Charming", "Luxurious")
KIND_ES = (
    ("casa", 1), ("villa", 1), ("apartamento", 0), ("lote", 0), ("condominio", 0),
    ("oficina", 1), ("finca", 1), ("local comercial", 0),
)  # fmt: skip
"""(noun, 1 if feminine), in PropertyType id order."""
KIND_EN = ("house", "villa", "apartment", "lot", "condo", "office", "farm", "retail space")
FEATURE_ES = (
    "Cuenta con piscina privada y jardín tropical.",
    "Cocina abierta, sala y comedor con vista al mar.",
    "A solo 5 minutos de la playa y del centro.",
    "Habitación principal con baño y vestidor.",
    "Excelente oportunidad de inversión para alquiler vacacional.",
    "Área de lavandería, bodega y cuarto de servicio.",
    "Ubicada en un residencial con seguridad las 24 horas.",
    "Terreno plano, con acceso a agua, electricidad e internet.",
    "Techos altos, pisos de porcelanato y aire acondicionado en todas las áreas.",
    "¡Ideal para familias! Escuelas y supermercados cerca.",
)
FEATURE_EN = (
    "It has a private pool and a tropical garden.",
    "Open plan kitchen, living and dining room with ocean view.",
    "Only 5 minutes away from the beach and from town.",
    "Master bedroom with en-suite bathroom and walk-in closet.",
    "Great investment opportunity as a vacation rental.",
    "Laundry room, storage and maid's quarters.",
    "Located in a gated community with 24/7 security.",
    "Flat land with water, electricity and internet available.",
    "High ceilings, porcelain floors and A/C throughout.",
    "Great family home! Schools and supermarkets nearby.",
)
PRICE_NOTE_ES = "¡Precio rebajado! El propietario escucha ofertas."
PRICE_NOTE_EN = "Price reduced! The owner is open to offers."
PRIVATE_ES = (
    "Llamar al propietario antes de mostrar.",
    "Llave en la oficina. Perro en el patio.",
    "El dueño prefiere WhatsApp; no llamar después de las 8 p. m.",
)
PRIVATE_EN = (
    "Call the owner before showing.",
    "Key at the office. Dog in the yard.",
    "Owner prefers WhatsApp; no calls after 8 pm.",
)
SHOWING = (
    "Coordinar con 24 horas de anticipación.",
    "Only with the listing agent present.",
    "Lockbox code at the office (ask for Ramón).",
)
NOTES = (
    "Ver fotos.",
    "Recently renovated.",
    "Necesita mantenimiento.",
    "Tile roof / techo de teja.",
)
