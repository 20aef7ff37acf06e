// The kiosk's own words in every language a form may speak. The form's texts (labels, consents,
// welcome, thank you) come from the published definition; these are the app's.
export const LANGUAGE_NAMES = { en: "English", fr: "Français", es: "Español" };

const MESSAGES = {
  en: {
    loading: "Loading…",
    submit: "Sign up",
    required: "required",
    optional: "optional",
    month: "Month",
    day: "Day",
    choose: "Choose…",
    consents: "Stay in touch",
    did_you_mean: "Did you mean {email}?",
    suggestion_applied: "Email changed to {email}.",
    fix_errors: "Please check {count} highlighted field(s).",
    next: "Done",
    idle_title: "Still there?",
    idle_text: "Your details will be cleared in {seconds} s.",
    idle_continue: "Yes, continue",
    idle_reset: "Start over",
    unsent: "{count} unsent",
    held: "{count} held",
    pair_title: "Pair this tablet",
    pair_intro: "Type the pairing code shown in the portal (Devices → Pair a tablet).",
    pair_code: "Pairing code",
    pair_button: "Pair",
    pairing: "Pairing…",
    unpaired_title: "This tablet is not paired",
    unpaired_text: "It was revoked or its pairing ended. Ask a manager for a new pairing code.",
    unpaired_button: "Pair again",
    no_form: "No form is published for this store yet. Publish one in the portal.",
    offline_no_form: "This tablet has no form yet and is offline. Connect it to the internet.",
    error_generic: "Something went wrong. Try again.",
    // Codes of the API's errors (the same codes the tablet checks before queuing).
    required_error: "This field is required.",
    invalid_email: "Enter a valid email address, like name@example.com.",
    invalid_phone: "Enter a valid phone number.",
    invalid_birthday: "Choose a real month and day.",
    invalid_postal_code: "Enter a valid postal code.",
    invalid_choice: "Choose among the options shown.",
    too_long: "This is too long.",
    phone_required: "To receive text messages, enter your phone number.",
    invalid: "This value is not valid.",
    invalid_pairing_code: "This pairing code is not valid. Check it and try again.",
    pairing_code_expired: "This pairing code was used or has expired. Ask for a new one.",
    pairing_code_locked: "Too many wrong tries. Ask for a new pairing code.",
    rate_limited: "Too many tries. Wait a minute and try again.",
    network: "No connection. Check the tablet's internet and try again.",
  },
  fr: {
    loading: "Chargement…",
    submit: "S'inscrire",
    required: "obligatoire",
    optional: "facultatif",
    month: "Mois",
    day: "Jour",
    choose: "Choisir…",
    consents: "Restons en contact",
    did_you_mean: "Vouliez-vous dire {email} ?",
    suggestion_applied: "Adresse remplacée par {email}.",
    fix_errors: "Vérifiez le(s) {count} champ(s) signalé(s).",
    next: "Terminé",
    idle_title: "Vous êtes toujours là ?",
    idle_text: "Vos informations seront effacées dans {seconds} s.",
    idle_continue: "Oui, continuer",
    idle_reset: "Recommencer",
    unsent: "{count} non envoyé(s)",
    held: "{count} en attente",
    pair_title: "Associer cette tablette",
    pair_intro: "Saisissez le code affiché dans le portail (Appareils → Associer une tablette).",
    pair_code: "Code d'association",
    pair_button: "Associer",
    pairing: "Association…",
    unpaired_title: "Cette tablette n'est pas associée",
    unpaired_text: "Elle a été révoquée. Demandez un nouveau code à un responsable.",
    unpaired_button: "Associer à nouveau",
    no_form: "Aucun formulaire n'est publié pour ce magasin. Publiez-en un dans le portail.",
    offline_no_form: "Cette tablette n'a pas encore de formulaire et est hors ligne.",
    error_generic: "Une erreur s'est produite. Réessayez.",
    required_error: "Ce champ est obligatoire.",
    invalid_email: "Saisissez une adresse e-mail valide, comme nom@exemple.fr.",
    invalid_phone: "Saisissez un numéro de téléphone valide.",
    invalid_birthday: "Choisissez un mois et un jour existants.",
    invalid_postal_code: "Saisissez un code postal valide.",
    invalid_choice: "Choisissez parmi les options proposées.",
    too_long: "C'est trop long.",
    phone_required: "Pour recevoir des SMS, saisissez votre numéro de téléphone.",
    invalid: "Cette valeur n'est pas valide.",
    invalid_pairing_code: "Ce code n'est pas valide. Vérifiez-le et réessayez.",
    pairing_code_expired: "Ce code a déjà servi ou a expiré. Demandez-en un nouveau.",
    pairing_code_locked: "Trop d'essais. Demandez un nouveau code.",
    rate_limited: "Trop d'essais. Patientez une minute.",
    network: "Pas de connexion. Vérifiez l'accès à internet de la tablette.",
  },
  es: {
    loading: "Cargando…",
    submit: "Suscribirse",
    required: "obligatorio",
    optional: "opcional",
    month: "Mes",
    day: "Día",
    choose: "Elegir…",
    consents: "Mantengámonos en contacto",
    did_you_mean: "¿Quiso decir {email}?",
    suggestion_applied: "Correo cambiado a {email}.",
    fix_errors: "Revise {count} campo(s) señalado(s).",
    next: "Listo",
    idle_title: "¿Sigue ahí?",
    idle_text: "Sus datos se borrarán en {seconds} s.",
    idle_continue: "Sí, continuar",
    idle_reset: "Empezar de nuevo",
    unsent: "{count} sin enviar",
    held: "{count} retenido(s)",
    pair_title: "Vincular esta tableta",
    pair_intro: "Escriba el código que muestra el portal (Dispositivos → Vincular una tableta).",
    pair_code: "Código de vinculación",
    pair_button: "Vincular",
    pairing: "Vinculando…",
    unpaired_title: "Esta tableta no está vinculada",
    unpaired_text: "Fue revocada. Pida un nuevo código de vinculación a un responsable.",
    unpaired_button: "Vincular de nuevo",
    no_form: "No hay ningún formulario publicado para esta tienda. Publique uno en el portal.",
    offline_no_form: "Esta tableta aún no tiene formulario y está sin conexión.",
    error_generic: "Algo salió mal. Inténtelo de nuevo.",
    required_error: "Este campo es obligatorio.",
    invalid_email: "Escriba un correo válido, como nombre@ejemplo.com.",
    invalid_phone: "Escriba un número de teléfono válido.",
    invalid_birthday: "Elija un mes y un día reales.",
    invalid_postal_code: "Escriba un código postal válido.",
    invalid_choice: "Elija entre las opciones mostradas.",
    too_long: "Es demasiado largo.",
    phone_required: "Para recibir SMS, escriba su número de teléfono.",
    invalid: "Este valor no es válido.",
    invalid_pairing_code: "Este código no es válido. Revíselo e inténtelo de nuevo.",
    pairing_code_expired: "Este código ya se usó o caducó. Pida uno nuevo.",
    pairing_code_locked: "Demasiados intentos. Pida un nuevo código.",
    rate_limited: "Demasiados intentos. Espere un minuto.",
    network: "Sin conexión. Compruebe la conexión a internet de la tableta.",
  },
};

export function pickLanguage(available, preferred = navigator.languages || []) {
  for (const tag of preferred) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (available.includes(base)) return base;
  }
  return available[0] || "en";
}

// t("unsent", "fr", {count: 3}).
export function t(key, locale, values = {}) {
  const table = MESSAGES[locale] || MESSAGES.en;
  const text = table[key] ?? MESSAGES.en[key] ?? table.invalid;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ""));
}

export function errorMessage(code, locale) {
  return code === "required" ? t("required_error", locale) : t(code, locale);
}

// The form's own texts: {"en": "...", "fr": "..."} in the shopper's language, else the first.
export function pick(texts, locale, fallback) {
  if (!texts || typeof texts !== "object") return "";
  return texts[locale] || texts[fallback] || Object.values(texts).find(Boolean) || "";
}
